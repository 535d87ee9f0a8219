"""The persons of the Person Server: sign-in and sessions, their tokens, the audit view and
the consent-policy admin endpoint.

Persons sign in with ``POST /login``.  Two kinds of session, two credentials, neither ever
accepted as the other (the draft leaves the PS's pages to the PS; the kit follows OWASP ASVS
level 2 V3 "Session Management"): the HTML form gets a session *cookie*, for the PS's pages;
a JSON sign-in gets a *Bearer* token (``{"session": …}``), for the JSON API.  A browser sends
a cookie by itself — on a loopback dev host to every port of the host (RFC 6265 §8.5) — so
the cookie authenticates nothing another page could make the browser do.  Every route that
asks for a session, and what guards it:

* ``GET /interaction`` (login, code and consent page): the cookie on a navigation only, not
  on a request another page embeds (``Sec-Fetch-Dest``), or a Bearer token;
* ``POST /interaction`` (the consent form): cookie or Bearer, with the request's ``Origin``
  and the form's CSRF token, bound to the session and the request (:mod:`.browser`);
* ``POST /logout``: the cookie (from this origin) or a Bearer token; it ends that session;
* the JSON API — ``GET /consent``, ``POST /consent/{id}/decision`` and ``…/abandon``, ``GET
  /tokens``, ``POST /tokens/{jti}/revoke``, ``GET``/``PUT /admin/consent-policy``, ``GET
  /audit``, ``GET /missions``, ``POST /missions/{s256}/revoke``: Bearer only.  A cookie
  there is ``401 unauthorized`` (``403 forbidden`` first when a browser sent it from
  another origin).

``POST /login`` itself checks the ``Origin`` and, for the form, its CSRF token.  Sessions
end after 30 minutes unused or 12 hours in all (:mod:`.store.persons`).

``GET /tokens`` lists the person and auth tokens issued on the person's behalf; ``POST
/tokens/{jti}/revoke`` revokes one here and at its resource (-11 "Token Revocation").  ``GET
/audit`` shows a signed-in person the entries of the PS's own append-only log that concern
them, an administrator all of it (the kit's choice, not the agent-facing -11 "Audit
Endpoint").

Who sees what: the consent policy (``/admin/consent-policy``) is for administrators only
(``403 forbidden`` otherwise).  A person sees only their own requests, tokens, missions and
audit entries.  Another person's object answers by how it was reached: a request reached by
a handle the caller was given (its interaction code, its pending id) is ``403 forbidden`` —
the holder of the handle learns nothing new, and is told to sign in as the right person;
an entry of someone else's list (a token's ``jti``, a mission's ``s256``) is ``404``, as an
unknown one, so those lists cannot be probed.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from aauth_kit import claims
from aauth_kit.asgi import check_origin
from aauth_kit.errors import AAuthError
from aauth_kit.message import require_json_object
from aauth_kit.throttle import Throttle

from . import browser, pages
from .context import Context, iso
from .minting import person_for
from .revocation import revoke_issued
from .store.persons import BEARER, COOKIE

SESSION_COOKIE = "aauth_session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
#: OWASP ASVS level 2 V2.1.2: passwords of more than 128 characters are refused (before hashing).
MAX_PASSWORD = 128
#: Failed sign-ins before ``429`` (ASVS V2.2.1): per username, and per client address (higher:
#: a class behind one NAT shares an address), within ``LOGIN_WINDOW`` seconds.
LOGIN_FAILURES, LOGIN_FAILURES_PER_ADDRESS, LOGIN_WINDOW = 5, 50, 900.0
#: ``POST /tokens/{jti}/revoke`` calls per person within :data:`LOGIN_WINDOW`: each one sends
#: revocations to resources, so the PS is no amplifier for a person (-11 "Token Revocation" is
#: silent; OWASP ASVS level 2 V11.1.4, anti-automation).
REVOCATIONS_PER_PERSON = 60


def _bearer(request: Request) -> str | None:
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    return (credential.strip() or None) if scheme.lower() == "bearer" else None


def _cookie(ctx: Context, request: Request) -> str | None:
    """The session cookie, checked for the origin of a state-changing request (``403``)."""
    token = browser.read_cookie(request, SESSION_COOKIE)
    if token and request.method not in SAFE_METHODS:
        check_origin(request, ctx.identifier)
    return token


def session(ctx: Context, request: Request) -> tuple[str, str] | None:
    """``(username, session token)`` for the PS's pages and logout: the Bearer session, else
    the cookie session — the cookie only on a navigation (``Sec-Fetch-Dest: document`` or no
    such header), never on a request another page embeds (an image, a frame, a script)."""
    token = _bearer(request)
    if token is not None:
        username = ctx.store.session_user(token, BEARER)
    else:
        token = _cookie(ctx, request)
        embedded = request.headers.get("sec-fetch-dest", "document") != "document"
        username = ctx.store.session_user(token, COOKIE) if token and not embedded else None
    return (username, token) if username else None


def person(ctx: Context, request: Request) -> str:
    """The username of the JSON API's caller, by its Bearer session only; else ``401
    unauthorized`` (a cookie as well: it is the pages' credential)."""
    token = _bearer(request)
    username = ctx.store.session_user(token, BEARER) if token else None
    if username is not None:
        return username
    if _cookie(ctx, request):
        raise AAuthError(
            "unauthorized", "the JSON API takes the Bearer token of a JSON sign-in, not the pages' cookie"
        )
    raise AAuthError("unauthorized", "sign in first: POST /login with JSON, then send Authorization: Bearer")


def admin(ctx: Context, request: Request) -> str:
    """The signed-in person's username if an administrator, else ``403 forbidden`` (OWASP ASVS
    level 2, access control: administrative functions for administrators only)."""
    username = person(ctx, request)
    user = ctx.store.get_user(username)
    if user is None or not user.admin:
        raise AAuthError("forbidden", "this is for the Person Server's administrators", status=403)
    return username


async def form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (the pages' forms) as a dict."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise AAuthError("invalid_request", "send the form as application/x-www-form-urlencoded")
    try:
        return dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise AAuthError("invalid_request", "the form is not UTF-8") from None


async def json_body(request: Request, what: str) -> dict:
    """A JSON object body sent as ``application/json`` (``what`` names it in the error)."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise AAuthError("invalid_request", f"send {what} as application/json")
    return require_json_object(await request.body())


def login_response(
    ctx: Context, request: Request, next_path: str, *, status: int = 200, headers=None, **shown
) -> Response:
    """The login page whose form is bound to the browser's pre-session cookie (set here if
    the browser has none): login CSRF cannot sign a victim in as the attacker."""
    value, new = browser.pre_session(request)
    csrf = browser.form_token(ctx, "login", value)
    response = pages.respond(pages.login_page(next_path, csrf=csrf, **shown), status, headers=headers)
    if new:
        browser.set_cookie(response, request, browser.PRE_SESSION_COOKIE, value)
    return response


def _local_path(target) -> str:
    """Where ``POST /login`` may send the browser next: a path on this server only."""
    if (
        isinstance(target, str)
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
    ):
        return target
    return "/interaction"


def _token_view(ctx: Context, token) -> dict:
    return {
        "jti": token.jti,
        "typ": token.typ,
        "resource": token.aud,
        "agent": token.agent_id,
        "scope": token.scope,
        "issued_at": iso(token.iat),
        "expires_at": iso(token.exp),
        "revoked": ctx.store.is_revoked(token.iss, token.jti),
    }


def _own_tokens(ctx: Context, username: str) -> list:
    """The person and auth tokens this PS issued for ``username`` (pairwise ``sub`` per resource)."""
    return [
        t
        for t in ctx.store.list_tokens()
        if t.typ in (claims.PERSON_TYP, claims.AUTH_TYP)
        and t.iss == ctx.identifier
        and person_for(ctx, t.sub, t.aud) == username
    ]


def routes(ctx: Context) -> list[Route]:
    # the PS's clock (a lab's in a notebook), like the wrong-code throttle: Retry-After is then
    # the same on every run of a docs-mode notebook
    throttle = Throttle(LOGIN_FAILURES, LOGIN_WINDOW, clock=ctx.clock)
    per_address = Throttle(LOGIN_FAILURES_PER_ADDRESS, LOGIN_WINDOW, clock=ctx.clock)
    revocations = Throttle(REVOCATIONS_PER_PERSON, LOGIN_WINDOW, clock=ctx.clock)

    async def login_endpoint(request: Request) -> Response:
        """JSON ``{"username", "password"}`` → ``{"session"}``, a Bearer token; the HTML form
        posts ``username``, ``password``, ``next`` and ``csrf``, gets the session cookie and is
        sent on to ``next``.

        In this order: the request's origin and the form's CSRF token (``403 forbidden``);
        the password's length (``400``, before any hashing); the throttles (``429
        rate_limited``, ``Retry-After``), each attempt counted before the hash is awaited
        (a success takes it back); then scrypt, on a worker thread so that the other
        servers on this event loop keep answering while someone guesses."""
        is_form = not request.headers.get("content-type", "").startswith("application/json")
        check_origin(request, ctx.identifier)
        body = await form(request) if is_form else require_json_object(await request.body())
        if is_form:
            browser.check_form(
                ctx, request, body, "login", browser.read_cookie(request, browser.PRE_SESSION_COOKIE)
            )
        username, password = body.get("username"), body.get("password")
        target = _local_path(body.get("next")) if is_form else None
        if isinstance(password, str) and len(password) > MAX_PASSWORD:
            raise AAuthError("invalid_request", f"a password has at most {MAX_PASSWORD} characters")
        user_key = f"user:{username}"
        address_key = f"address:{request.client.host if request.client else 'unknown'}"
        try:
            throttle.check(user_key)
            per_address.check(address_key)
        except AAuthError as locked:
            if not is_form:
                raise
            wait = str(locked.members["retry_after"])
            return login_response(
                ctx,
                request,
                target,
                error=f"Too many attempts: try again in {wait} s.",
                status=429,
                headers={"retry-after": wait},
            )
        # counted before the hash is awaited, so guesses sent at once meet the limit too
        throttle.fail(user_key)
        per_address.fail(address_key)
        ok = (
            isinstance(username, str)
            and isinstance(password, str)
            and await asyncio.to_thread(ctx.store.check_password, username, password)
        )
        if not ok:
            if is_form:
                shown = username if isinstance(username, str) else ""
                return login_response(
                    ctx, request, target, error="Wrong username or password.", username=shown, status=401
                )
            raise AAuthError("unauthorized", "wrong username or password")
        throttle.forget(user_key)
        per_address.forget_one(address_key)
        token = ctx.store.create_session(username, COOKIE if is_form else BEARER)
        ctx.store.audit(username, "login", username)
        if not is_form:
            return JSONResponse({"session": token, "username": username})
        response = RedirectResponse(target, 303)
        browser.set_cookie(response, request, SESSION_COOKIE, token)
        return response

    async def logout_endpoint(request: Request) -> Response:
        """``POST /logout``: the session presented (Bearer, or the cookie from this origin) ends."""
        found = session(ctx, request)
        if found is not None:
            ctx.store.delete_session(found[1])
            ctx.store.audit(found[0], "logout", found[0])
        response = JSONResponse({"status": "signed_out"})
        browser.clear_cookie(response, request, SESSION_COOKIE)
        return response

    async def tokens_endpoint(request: Request) -> Response:
        """``GET /tokens``: the person and auth tokens issued on the signed-in person's behalf."""
        username = person(ctx, request)
        return JSONResponse([_token_view(ctx, t) for t in _own_tokens(ctx, username)])

    async def revoke_token_endpoint(request: Request) -> Response:
        """``POST /tokens/{jti}/revoke``: the person revokes one of their tokens, here and at its
        resource; again after a failure, to retry.  ``{"jti", "revoked", "downstream"}``;
        past :data:`REVOCATIONS_PER_PERSON` calls in the window ``429 rate_limited``."""
        username = person(ctx, request)
        revocations.check(username)
        revocations.fail(username)  # every call counts: each one sends revocations out
        jti = request.path_params["jti"]
        token = next((t for t in _own_tokens(ctx, username) if t.jti == jti), None)
        if token is None:
            raise AAuthError("not_found", "you have no token with this jti")
        downstream = await revoke_issued(ctx, [token], actor=username)
        return JSONResponse({"jti": jti, "revoked": True, "downstream": downstream})

    async def policy_endpoint(request: Request) -> Response:
        """``GET``/``PUT /admin/consent-policy`` ``{"scopes", "prefixes"}`` (takes effect at once;
        administrators only)."""
        username = admin(ctx, request)
        if request.method == "PUT":
            ctx.policy.update(await json_body(request, "the policy"))
            ctx.store.audit(username, "consent_policy_changed", "consent-policy", asdict(ctx.policy))
        return JSONResponse(asdict(ctx.policy))

    async def audit_endpoint(request: Request) -> Response:
        """``GET /audit?limit=N``: the latest entries, oldest first — an administrator's the
        whole log, anyone else's the entries about them."""
        username = person(ctx, request)
        limit = request.query_params.get("limit", "100")
        if not (limit.isascii() and limit.isdigit()) or not 0 < int(limit) <= 10_000:
            raise AAuthError("invalid_request", "limit must be a number from 1 to 10000")
        everyone = ctx.store.get_user(username).admin
        entries = ctx.store.audit_log(int(limit), person=None if everyone else username)
        return JSONResponse(
            [
                {
                    "seq": e.seq,
                    "at": iso(e.ts),
                    "actor": e.actor,
                    "action": e.action,
                    "subject": e.subject,
                    "details": e.details,
                }
                for e in entries
            ]
        )

    return [
        Route("/login", login_endpoint, methods=["POST"]),
        Route("/logout", logout_endpoint, methods=["POST"]),
        Route("/tokens", tokens_endpoint),
        Route("/tokens/{jti}/revoke", revoke_token_endpoint, methods=["POST"]),
        Route("/admin/consent-policy", policy_endpoint, methods=["GET", "PUT"]),
        Route("/audit", audit_endpoint),
    ]
