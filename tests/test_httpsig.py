"""RFC 9421 (HTTP Message Signatures) and RFC 9530 (Content-Digest), generic layer."""

import copy
from dataclasses import dataclass

import pytest

from aauth_kit.components import authority, component, component_value, parse_components
from aauth_kit.digest import check_content_digest, content_digest
from aauth_kit.errors import SignatureError, UsageError
from aauth_kit.httpsig import (
    attach,
    check_times,
    read_signature,
    sign,
    signature_base,
    signature_params,
    verify_signature,
)
from aauth_kit.keys import Key
from aauth_kit.message import HttpMessage

from .conftest import load_vector

B26 = load_vector("rfc9421/B.2.6-ed25519.json")


def test_b26_reproduced_byte_for_byte(b26_request, rfc_key):
    """RFC 9421 Appendix B.2.6: base, Signature-Input and Signature exactly."""
    signed = sign(b26_request, rfc_key, B26["covered_components"], label="sig-b26", **B26["params"])
    assert signed.base == B26["signature_base"]
    assert signed.signature_input == B26["Signature-Input"]
    assert signed.signature_header == B26["Signature"]


def test_b26_verifies_and_every_covered_byte_matters(b26_request, rfc_key):
    """RFC 9421 §3.2: changing any covered component breaks the signature."""
    b26_request.headers += [("Signature-Input", B26["Signature-Input"]), ("Signature", B26["Signature"])]
    sig = read_signature(b26_request)
    assert sig.label == "sig-b26"
    assert verify_signature(b26_request, sig, rfc_key.public()) == B26["signature_base"]
    tampers = {
        "date": lambda m: m.set_header("Date", "Tue, 20 Apr 2021 02:07:56 GMT"),
        "@method": lambda m: setattr(m, "method", "PUT"),
        "@path": lambda m: setattr(m, "target_uri", m.target_uri.replace("/foo", "/fox")),
        "@authority": lambda m: setattr(m, "target_uri", m.target_uri.replace("example.com", "example.org")),
        "content-type": lambda m: m.set_header("Content-Type", "text/plain"),
        "content-length": lambda m: m.set_header("Content-Length", "19"),
    }
    for name, tamper in tampers.items():
        message = copy.deepcopy(b26_request)
        tamper(message)
        with pytest.raises(SignatureError) as err:
            verify_signature(message, read_signature(message), rfc_key)
        assert err.value.code == "invalid_signature", name
    # the query is not covered by B.2.6: changing it leaves the signature valid
    message = copy.deepcopy(b26_request)
    message.target_uri = message.target_uri.replace("Pet=dog", "Pet=cat")
    verify_signature(message, read_signature(message), rfc_key)


def test_signature_bytes_tampered(b26_request, rfc_key):
    bad = B26["Signature"].replace("wqcA", "wqcB")
    b26_request.headers += [("Signature-Input", B26["Signature-Input"]), ("Signature", bad)]
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(b26_request, read_signature(b26_request), rfc_key)


def req(url="https://Example.COM:443/a%2Fb/c?x=1&y=%20", headers=(), body=b"", method="POST"):
    return HttpMessage(method=method, target_uri=url, headers=list(headers), body=body)


def test_derived_components_rfc9421_2_2():
    """RFC 9421 §2.2.1-2.2.7: derived component values."""
    m = req()
    values = {
        name: component_value(m, component(name))
        for name in ("@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path", "@query")
    }
    assert values == {
        "@method": "POST",
        "@target-uri": "https://Example.COM:443/a%2Fb/c?x=1&y=%20",
        "@authority": "example.com",
        "@scheme": "https",
        "@request-target": "/a%2Fb/c?x=1&y=%20",
        "@path": "/a%2Fb/c",
        "@query": "?x=1&y=%20",
    }
    assert component_value(req("https://example.com"), component("@path")) == "/"
    assert component_value(req("https://example.com/p"), component("@query")) == "?"
    assert authority("http://127.0.0.1:8765/x") == "127.0.0.1:8765"
    assert authority("http://h.example:80/") == "h.example"


def test_status_only_for_responses_and_req_parameter():
    """RFC 9421 §2.2.9 @status; §2.4 ;req takes a component from the request."""
    request = req(headers=[("Content-Type", "application/json")])
    response = HttpMessage(status=200, headers=[("Content-Type", "text/plain")], request=request)
    assert component_value(response, component("@status")) == "200"
    assert component_value(response, component("content-type", req=True)) == "application/json"
    assert component_value(response, component("@method", req=True)) == "POST"
    with pytest.raises(SignatureError) as err:
        component_value(request, component("@status"))
    assert err.value.code == "invalid_input"


def test_header_field_values_rfc9421_2_1():
    """§2.1: names lower-cased, values trimmed, repeated lines joined by ', '."""
    m = req(headers=[("X-Multi", "  a  "), ("x-multi", "b , c"), ("Cache-Control", "max-age=60")])
    assert component_value(m, component("x-multi")) == "a, b , c"
    assert component_value(m, component("cache-control")) == "max-age=60"
    with pytest.raises(SignatureError) as err:
        component_value(m, component("x-missing"))
    assert err.value.code == "invalid_input"


def test_sf_key_and_bs_parameters():
    """§2.1.1 ;sf strict re-serialization, §2.1.2 ;key dictionary member, §2.1.3 ;bs."""
    m = req(headers=[("Signature-Key", 'sig=jwt;  jwt="abc",  b=hwk'), ("X-Bin", " one "), ("X-Bin", "two")])
    assert component_value(m, component("signature-key", sf=True)) == 'sig=jwt;jwt="abc", b=hwk'
    assert component_value(m, component("signature-key", key="b")) == "hwk"
    assert component_value(m, component("x-bin", bs=True)) == ":b25l:, :dHdv:"
    with pytest.raises(UsageError, match="structured type"):
        component_value(m, component("x-bin", sf=True))
    with pytest.raises(SignatureError):
        component_value(m, component("signature-key", key="zz"))


def test_unsupported_components_name_themselves():
    m = req()
    with pytest.raises(UsageError, match="@query-param"):
        component_value(m, component("@query-param", name="x"))
    with pytest.raises(UsageError, match="tr"):
        component_value(m, component("content-type", tr=True))


@pytest.mark.parametrize(
    "covered", ['"@query-param";name="x"', '"content-type";tr', '"content-type";sf', '"@unknown"']
)
def test_received_components_the_kit_cannot_rebuild_are_invalid_input(rfc_key, covered):
    """A verifier given such a signature fails it (RFC 9421 §3.2) with a Signature-Error, never a UsageError."""
    m = req(headers=[("Content-Type", "a")])
    attach(m, sign(m, rfc_key, ["@method"], created=1))
    m.set_header("Signature-Input", f'sig=({covered} "@method");created=1')
    with pytest.raises(SignatureError) as err:
        verify_signature(m, read_signature(m), rfc_key)
    assert err.value.code == "invalid_input"


def test_duplicate_component_rejected():
    """§2.5: a component identifier may not be covered twice."""
    m = req(headers=[("Content-Type", "a")])
    with pytest.raises(SignatureError) as err:
        signature_base(m, signature_params(parse_components('"content-type" "content-type"'), {}))
    assert err.value.code == "invalid_input"


def test_parse_components_keeps_parameters():
    items = parse_components('"@method" "signature-key";key="sig" "x";bs')
    assert [str(i) for i in items] == ['"@method"', '"signature-key";key="sig"', '"x";bs']


def test_content_digest_rfc9530():
    body = b'{"hello": "world"}'
    assert content_digest(body) == "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
    assert content_digest(body, "sha-512").startswith("sha-512=:WZDPaVn/7XgHaAy8")
    check_content_digest(content_digest(body), body)
    check_content_digest("unixsum=:AAAA:, " + content_digest(body, "sha-512"), body)
    for bad in (content_digest(b"other"), "md5=:AAAA:", "sha-256=x", None):
        with pytest.raises(SignatureError):
            check_content_digest(bad, body)
    with pytest.raises(UsageError):
        content_digest(body, "md5")


def test_covered_content_digest_is_recomputed(rfc_key):
    """A signature covering content-digest fails when the body changes (RFC 9530 + -11 profile)."""
    m = req(headers=[("Content-Type", "application/json")], body=b"{}")
    m.headers.append(("Content-Digest", content_digest(m.body)))
    attach(m, sign(m, rfc_key, ["@method", "content-digest"], created=1))
    verify_signature(m, read_signature(m), rfc_key)
    m.body = b'{"x":1}'
    with pytest.raises(SignatureError, match="Content-Digest"):
        verify_signature(m, read_signature(m), rfc_key)


def test_es256_sign_verify_raw_r_s():
    """RFC 9421 §3.3.4: ECDSA P-256 signatures are the 64-byte r‖s concatenation."""
    key = Key.from_seed("es", "ES256")
    m = req()
    signed = sign(m, key, ["@method", "@path"], created=5)
    assert len(signed.signature) == 64
    attach(m, signed)
    verify_signature(m, read_signature(m), key.public())
    with pytest.raises(SignatureError):
        verify_signature(m, read_signature(m), Key.from_seed("other", "ES256"))


def test_alg_parameter_must_fit_key(rfc_key):
    m = req()
    attach(m, sign(m, rfc_key, ["@method"], alg="ed25519"))
    verify_signature(m, read_signature(m), rfc_key)
    with pytest.raises(UsageError):
        sign(m, rfc_key, ["@method"], alg="ecdsa-p256-sha256")
    m2 = req()
    m2.headers += [("Signature-Input", 'sig=("@method");alg="rsa-pss-sha512"'), ("Signature", "sig=:AAAA:")]
    with pytest.raises(SignatureError) as err:
        verify_signature(m2, read_signature(m2), rfc_key)
    assert err.value.code == "unsupported_algorithm"


def test_time_window_rules():
    """Draft -11 verification step 3: too old → invalid_signature, ahead → clock_skew."""

    def sig_with(params):
        m = req(headers=[("Signature-Input", f'sig=("@method"){params}'), ("Signature", "sig=:AAAA:")])
        return read_signature(m)

    check_times(sig_with(";created=100"), 150, 60, require_created=True)
    with pytest.raises(SignatureError) as err:
        check_times(sig_with(";created=100"), 161, 60, require_created=True)
    assert err.value.code == "invalid_signature"
    with pytest.raises(SignatureError) as err:
        check_times(sig_with(";created=200"), 100, 60, require_created=True)
    assert err.value.code == "clock_skew"
    with pytest.raises(SignatureError, match="expired"):
        check_times(sig_with(";created=100;expires=120"), 121, 60, require_created=True)
    with pytest.raises(SignatureError, match="no created"):
        check_times(sig_with(""), 100, 60, require_created=True)
    check_times(sig_with(""), 100, None, require_created=False)


@pytest.mark.parametrize(
    "si, sig",
    [
        (None, "sig=:AAAA:"),
        ('sig=("@method")', None),
        ('sig=("@method"', "sig=:AAAA:"),
        ('sig=("@method")', "other=:AAAA:"),
        ('sig=("@method")', "sig=notbytes"),
        ("sig=token", "sig=:AAAA:"),
        ("sig=(1 2)", "sig=:AAAA:"),
        ('sig=("@method");created="x"', "sig=:AAAA:"),
    ],
)
def test_malformed_signature_headers(si, sig):
    headers = [(n, v) for n, v in (("Signature-Input", si), ("Signature", sig)) if v is not None]
    with pytest.raises(SignatureError) as err:
        read_signature(req(headers=headers))
    assert err.value.code == "invalid_signature"


# -- cross-checks with http-message-signatures (an implementation we did not write) ------
@dataclass
class _Req:
    method: str
    url: str
    headers: dict


def _oracle(key: Key, kid: str):
    from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, MappingKeyResolver, algorithms

    alg = algorithms.ED25519 if key.alg == "Ed25519" else algorithms.ECDSA_P256_SHA256
    resolver = MappingKeyResolver(
        public_keys={kid: key.crypto_public_key()}, private_keys={kid: key.crypto_private_key()}
    )
    return HTTPMessageSigner(signature_algorithm=alg, key_resolver=resolver), HTTPMessageVerifier(
        signature_algorithm=alg, key_resolver=resolver
    )


COMPONENTS = [
    "@method",
    "@target-uri",
    "@authority",
    "@scheme",
    "@request-target",
    "@path",
    "@query",
    "content-type",
    "x-multi",
    "signature-key",
]


@pytest.mark.parametrize("alg", ["Ed25519", "ES256"])
def test_oracle_verifies_our_signature(alg):
    """http-message-signatures 3.0.0 verifies what the kit signs (with a keyid, which it needs)."""
    key = Key.from_seed("oracle", alg)
    m = req(
        "https://Resource.Example:443/api/x?b=2&a=1",
        headers=[
            ("Content-Type", "application/json"),
            ("X-Multi", "a"),
            ("X-Multi", " b "),
            ("Signature-Key", 'sig=jwt;jwt="e30.e30.AA"'),
        ],
    )
    import time

    attach(m, sign(m, key, COMPONENTS, created=int(time.time()), keyid=key.thumbprint()))
    headers = {}
    for name, value in m.headers:
        headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
    _, verifier = _oracle(key, key.thumbprint())
    results = verifier.verify(_Req(m.method, m.target_uri, headers))
    assert results and results[0].label == "sig"


def test_oracle_builds_the_same_base_and_we_verify_its_signature():
    """The oracle signs; the kit rebuilds the identical base and verifies the bytes."""
    key = Key.from_seed("oracle")
    signer, verifier = _oracle(key, "k1")
    message = _Req(
        "GET", "https://resource.example/docs?q=1", {"Content-Type": "text/plain", "Signature-Key": "sig=hwk"}
    )
    signer.sign(
        message,
        key_id="k1",
        label="sig",
        include_alg=False,
        covered_component_ids=("@method", "@authority", "@path", "@query", "content-type", "signature-key"),
    )
    ours = HttpMessage("GET", message.url, list(message.headers.items()))
    sig = read_signature(ours)
    base = verify_signature(ours, sig, key.public())
    si = verifier._parse_signature_dictionary(message.headers["Signature-Input"])["sig"]
    oracle_base, _, _ = verifier._build_signature_base(
        message, covered_component_ids=list(si), signature_params=si.params
    )
    assert base == oracle_base
