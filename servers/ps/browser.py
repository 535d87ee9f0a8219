"""The Person Server facing a browser: its cookies and the CSRF tokens of its forms.

-11 leaves the web security of the PS's pages to the PS; the kit follows RFC 9700 §4.16 and
OWASP ASVS level 2 (V3 "Session Management", V4.2.2 CSRF):

* every state-changing form carries a token (:func:`form_token`), an HMAC under a key
  derived from the PS key of what the form is for and what it is bound to: the login form
  to a *pre-session* cookie set with the page (login CSRF), the consent form to the
  session and the pending request.  :func:`check_form` checks it, after
  :func:`~aauth_kit.asgi.check_origin` and before anything else the form would do;
* cookies are ``HttpOnly``, ``SameSite=Strict`` and, over https, ``Secure`` with the
  ``__Host-`` prefix (:func:`set_cookie`; RFC 6265bis "The __Host- Prefix"): only this
  host, path ``/``, no ``Domain``, so a sibling host cannot set or overwrite them (a cookie
  by the plain name is not read over https).  Plain names over http, where browsers refuse
  the prefix.  Strict fits the flow: the interaction link an agent shows is a
  top-level GET from another site, which then carries no cookie, so a person signed in
  earlier signs in once more on that page; every later step (the login POST, its redirect,
  the consent POST) starts on the PS's own page and carries its cookies.  Cookies ignore
  ports (RFC 6265 §8.5): on a loopback dev host every server of the host receives them,
  which is why the tokens and the ``Origin`` check do not rely on cookies alone.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from aauth_kit.asgi import check_origin
from aauth_kit.errors import AAuthError
from aauth_kit.keys import b64url

from .context import Context

PRE_SESSION_COOKIE = "aauth_pre_session"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def cookie_name(request: Request, name: str) -> str:
    """``name`` as this request's scheme has it: ``__Host-name`` over https, else ``name``."""
    return f"__Host-{name}" if _secure(request) else name


def read_cookie(request: Request, name: str) -> str | None:
    """The cookie ``name`` as :func:`set_cookie` sets it (over https the prefixed one only)."""
    return request.cookies.get(cookie_name(request, name)) or None


def set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    """``HttpOnly; SameSite=Strict; Path=/``, no ``Domain``; ``Secure`` and ``__Host-`` over https."""
    response.set_cookie(
        cookie_name(request, name), value, httponly=True, samesite="strict", path="/", secure=_secure(request)
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    """The browser forgets the cookie :func:`set_cookie` set."""
    response.delete_cookie(
        cookie_name(request, name), path="/", httponly=True, samesite="strict", secure=_secure(request)
    )


def pre_session(request: Request) -> tuple[str, bool]:
    """The browser's pre-session value, and whether it is new (then set it with the page)."""
    value = read_cookie(request, PRE_SESSION_COOKIE)
    return (value, False) if value else (secrets.token_urlsafe(32), True)


def form_token(ctx: Context, purpose: str, *binding: str) -> str:
    """The CSRF token of a ``purpose`` form bound to ``binding`` (a cookie's or session's value)."""
    key = hashlib.sha256(b"aauth-kit csrf\x00" + ctx.pairwise_key).digest()
    message = "\x00".join((purpose, *binding)).encode()
    return b64url(hmac.new(key, message, hashlib.sha256).digest())


def check_form(ctx: Context, request: Request, fields: dict, purpose: str, *binding: str | None) -> None:
    """``403 forbidden`` unless the request comes from this server's origin (when a browser
    says) and ``fields["csrf"]`` is the token of this form bound to ``binding``."""
    check_origin(request, ctx.identifier)
    sent = fields.get("csrf")
    if not isinstance(sent, str) or not all(binding):
        raise AAuthError("forbidden", "this form carries no CSRF token, or its cookie is missing", status=403)
    if not hmac.compare_digest(sent, form_token(ctx, purpose, *binding)):
        raise AAuthError("forbidden", "this form was not issued to this browser", status=403)
