#!/usr/bin/env node
/*
 * A second-language interop peer: @hellocoop/httpsig 2.2.0 (RFC 9421 with Signature-Key -08),
 * driven by tests/test_interop_node.py.
 *
 * Reads one JSON job on stdin and prints one JSON result on stdout:
 *
 *   {"op": "sign", "method", "url", "headers", "body", "key": <private JWK with alg>,
 *    "signature_key": {"type": "hwk"} | {"type": "jwt", "jwt"} | {"type": "jwks_uri", "id", "dwk", "kid"},
 *    "created": <unix seconds>, "components": [...] (optional)}
 *     -> {"headers": {lower-case name: value}, "base": <the signature base the peer signed>}
 *
 *   {"op": "verify", "method", "authority", "path", "query" (no leading "?", the peer's convention),
 *    "headers", "body", "now": <unix seconds>, "require_content_digest": bool}
 *     -> {"verified", "thumbprint", "label", "key_type", "jwt_payload", "error", "code", "base"}
 *
 *   {"op": "version"} -> {"version": <the installed package's version>}
 *
 * The clock is pinned by replacing Date.now, the only clock the package reads.  "base" is the
 * byte string the package handed to WebCrypto, recorded on the way: the peer's own signature
 * base, for comparison with the kit's.  A job that throws prints {"exception": message} and
 * exits 1.  The package is the one scripts/install-node-peer put in .npm-peers/.
 */
'use strict';

const path = require('path');

const PACKAGE_DIR = path.join(__dirname, '..', '.npm-peers', 'node_modules', '@hellocoop', 'httpsig');

/** Record the data the package signs or verifies: WebCrypto's last argument. */
const seen = [];
const subtle = globalThis.crypto.subtle;
for (const operation of ['sign', 'verify']) {
    const original = subtle[operation].bind(subtle);
    subtle[operation] = (...args) => {
        seen.push(Buffer.from(args[args.length - 1]).toString('utf8'));
        return original(...args);
    };
}

function pinClock(seconds) {
    if (typeof seconds === 'number') {
        Date.now = () => seconds * 1000;
    }
}

async function sign(httpsig, job) {
    pinClock(job.created);
    const options = {
        method: job.method,
        headers: job.headers || {},
        signingKey: job.key,
        signatureKey: job.signature_key,
        dryRun: true,
    };
    if (job.body !== undefined && job.body !== null) {
        options.body = job.body;
    }
    if (job.components) {
        options.components = job.components;
    }
    const { headers } = await httpsig.fetch(job.url, options);
    return { headers: Object.fromEntries(headers), base: seen.pop() ?? null };
}

async function verify(httpsig, job) {
    pinClock(job.now);
    const request = {
        method: job.method,
        authority: job.authority,
        path: job.path,
        headers: job.headers,
    };
    if (job.query) {
        request.query = job.query;
    }
    if (job.body !== undefined && job.body !== null) {
        request.body = job.body;
    }
    const result = await httpsig.verify(request, { requireContentDigest: Boolean(job.require_content_digest) });
    return {
        verified: result.verified,
        thumbprint: result.thumbprint || null,
        label: result.label || null,
        key_type: result.verified ? result.keyType : null,
        jwt_payload: result.jwt ? result.jwt.payload : null,
        error: result.error ?? null,
        code: result.signatureError ? result.signatureError.error : null,
        base: seen.pop() ?? null,
    };
}

async function main() {
    const chunks = [];
    for await (const chunk of process.stdin) {
        chunks.push(chunk);
    }
    const job = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const httpsig = require(PACKAGE_DIR);
    if (job.op === 'sign') {
        return sign(httpsig, job);
    }
    if (job.op === 'verify') {
        return verify(httpsig, job);
    }
    if (job.op === 'version') {
        return { version: require(path.join(PACKAGE_DIR, 'package.json')).version };
    }
    throw new Error(`unknown op ${JSON.stringify(job.op)}`);
}

main().then(
    (result) => process.stdout.write(JSON.stringify(result)),
    (error) => {
        process.stdout.write(JSON.stringify({ exception: error instanceof Error ? error.message : String(error) }));
        process.exitCode = 1;
    },
);
