"""Who answers at a resource's own interaction page: a person signed in at the resource.

-11 "Interaction Code Format": the code is "a correlation identifier", "NOT an authorization
credential", and since the agent relays it, "the code alone MUST NOT authorize the decision".
So a resource that asks the person itself (-11 "Resource-Managed Authorization",
"Resource-Initiated Interaction") signs the person in before it shows or takes a decision.

A resource is given its persons: ``Resource(..., persons={"alice": ("password", (iss, sub))})``
— each username at the resource, its password and the person it is: the ``(iss, sub)`` a
person token of that PS names for this resource — or a callable ``sign_in(username, password)
-> (iss, sub) | None`` over accounts the resource keeps elsewhere.  A decision on a request
made with a person or auth token is taken only from that person; a request made with an
agent token alone names no person, and any person signed in here may answer it.  A resource
given no persons cannot tell who decides: its page refuses every decision.

The web security is the Person Server's (OWASP ASVS level 2 V3 "Session Management", V2.2.1,
RFC 9700 §4.16): the sign-in form's CSRF token is bound to a pre-session cookie (login CSRF), a
consent form's to the session and the held request; cookies are ``HttpOnly``,
``SameSite=Strict``, ``Secure`` with the ``__Host-`` prefix over https; a session ends after
:data:`IDLE` seconds unused or :data:`LIFETIME` in all; failed sign-ins are throttled per
username and per client address, wrong codes per signed-in person (``429 rate_limited``).  One
person keeps at most :data:`MAX_SESSIONS_PER_PERSON` sessions (a new one ends their own least
recently used), so signing in over and over never ends another person's session; past
:data:`MAX_SESSIONS` in all, the least recently used goes.  A person signs out with a form of
their session (ASVS V3.3.1: the session ends at the server, its cookie no longer works).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from .errors import AAuthError
from .keys import b64url
from .throttle import Throttle

#: ``(iss, sub)``: the person a person token of the PS ``iss`` names at this resource.
Person = tuple[str, str]
#: ``sign_in(username, password)``: the person these credentials are, or ``None``.
SignIn = Callable[[str, str], "Person | None"]

SESSION_COOKIE = "aauth_resource_session"
PRE_SESSION_COOKIE = "aauth_resource_pre_session"
#: A session ends after this many seconds unused, or after :data:`LIFETIME` in all.
IDLE, LIFETIME = 1800.0, 43_200.0
#: Sessions a resource keeps at most (the least recently used goes first).
MAX_SESSIONS = 1000
#: Sessions one person keeps at a resource (their own least recently used goes first).
MAX_SESSIONS_PER_PERSON = 10
#: ASVS V2.1.2: longer passwords are refused before any hashing.
MAX_PASSWORD = 128
#: Failed sign-ins before ``429``: per username, per client address, within the window (seconds).
FAILURES, FAILURES_PER_ADDRESS, WINDOW = 5, 50, 900.0
#: Unknown or used codes a signed-in person may present within :data:`WINDOW`.
WRONG_CODES = 5
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def password_sign_in(accounts: Mapping[str, tuple[str, Person]]) -> SignIn:
    """A sign-in over ``{username: (password, (iss, sub))}``: each password kept as a salted
    scrypt hash, compared in constant time; an unknown username costs a hash too."""

    def digest(password: str, salt: bytes) -> bytes:
        return hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)

    kept = {}
    for username, (password, person) in accounts.items():
        salt = secrets.token_bytes(16)
        kept[username] = (salt, digest(password, salt), tuple(person))
    nobody = (b"\x00" * 16, b"", None)

    def sign_in(username: str, password: str) -> Person | None:
        salt, expected, person = kept.get(username, nobody)
        matches = hmac.compare_digest(digest(password, salt), expected)
        return person if matches and person is not None else None

    return sign_in


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _cookie_name(request: Request, name: str) -> str:
    return f"__Host-{name}" if _secure(request) else name


def read_cookie(request: Request, name: str) -> str | None:
    """The cookie as :func:`set_cookie` sets it (over https the prefixed one only)."""
    return request.cookies.get(_cookie_name(request, name)) or None


def set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    """``HttpOnly; SameSite=Strict; Path=/``, no ``Domain``; ``Secure`` and ``__Host-`` over https."""
    response.set_cookie(
        _cookie_name(request, name),
        value,
        httponly=True,
        samesite="strict",
        path="/",
        secure=_secure(request),
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    """Tell the browser to drop the cookie :func:`set_cookie` set."""
    response.delete_cookie(
        _cookie_name(request, name), httponly=True, samesite="strict", path="/", secure=_secure(request)
    )


@dataclass
class PersonSession:
    """A person signed in at the resource."""

    username: str
    person: Person
    started: float
    used: float


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class PersonLogin:
    """The persons who may answer at a resource's page, their sessions and the throttles."""

    def __init__(self, persons: Mapping[str, tuple[str, Person]] | SignIn | None, *, clock):
        self.sign_in: SignIn | None = password_sign_in(persons) if isinstance(persons, Mapping) else persons
        self.clock = clock
        self.sessions: dict[str, PersonSession] = {}  # by the SHA-256 of the cookie's value
        self.max_sessions, self.max_per_person = MAX_SESSIONS, MAX_SESSIONS_PER_PERSON
        self._key = secrets.token_bytes(32)  # the forms' CSRF tokens are HMACs under it
        self.failures = Throttle(FAILURES, WINDOW, clock=clock)
        self.failures_per_address = Throttle(FAILURES_PER_ADDRESS, WINDOW, clock=clock)
        self.wrong_codes = Throttle(WRONG_CODES, WINDOW, clock=clock)

    # -- forms ---------------------------------------------------------------------------------
    def form_token(self, purpose: str, *binding: str) -> str:
        """The CSRF token of a ``purpose`` form bound to ``binding`` (a cookie's value, a row id)."""
        message = "\x00".join((purpose, *binding)).encode()
        return b64url(hmac.new(self._key, message, hashlib.sha256).digest())

    def check_form(self, fields: dict, purpose: str, *binding: str | None) -> None:
        """``403 forbidden`` unless ``fields["csrf"]`` is the token of this form bound to ``binding``."""
        sent = fields.get("csrf")
        if not isinstance(sent, str) or not all(binding):
            raise AAuthError(
                "forbidden", "this form carries no CSRF token, or its cookie is missing", status=403
            )
        if not hmac.compare_digest(sent, self.form_token(purpose, *binding)):
            raise AAuthError("forbidden", "this form was not issued to this browser", status=403)

    # -- sessions ------------------------------------------------------------------------------
    def session(self, request: Request) -> tuple[str, PersonSession] | None:
        """The browser's session cookie and its live session, if any (on a navigation only:
        never on a request another page embeds, ``Sec-Fetch-Dest``)."""
        token = read_cookie(request, SESSION_COOKIE)
        if token is None or request.headers.get("sec-fetch-dest", "document") != "document":
            return None
        found, now = self.sessions.get(_hash(token)), self.clock()
        if found is None or found.used + IDLE <= now or found.started + LIFETIME <= now:
            self.sessions.pop(_hash(token), None)
            return None
        found.used = now
        return token, found

    async def sign_in_with(self, request: Request, username, password) -> str:
        """A new session's cookie value for these credentials.  In this order: the password's
        length (``400``), the throttles (``429 rate_limited``, each attempt counted before the
        hash runs, a success takes it back), then the check, on a worker thread; wrong
        credentials are ``401 unauthorized``, and with no persons configured ``403``."""
        if self.sign_in is None:
            raise AAuthError(
                "forbidden", "this resource signs nobody in: it takes no decision here", status=403
            )
        if not (isinstance(username, str) and isinstance(password, str)):
            raise AAuthError("invalid_request", "username and password are required")
        if len(password) > MAX_PASSWORD:
            raise AAuthError("invalid_request", f"a password has at most {MAX_PASSWORD} characters")
        user_key = f"user:{username}"
        address_key = f"address:{request.client.host if request.client else 'unknown'}"
        self.failures.check(user_key)
        self.failures_per_address.check(address_key)
        self.failures.fail(user_key)
        self.failures_per_address.fail(address_key)
        person = await asyncio.to_thread(self.sign_in, username, password)
        if person is None:
            raise AAuthError("unauthorized", "wrong username or password")
        self.failures.forget(user_key)
        self.failures_per_address.forget_one(address_key)
        return self.start(username, tuple(person))

    def end(self, token: str) -> None:
        """The session whose cookie value is ``token`` ends (ASVS V3.3.1)."""
        self.sessions.pop(_hash(token), None)

    def start(self, username: str, person: Person) -> str:
        """A new session for ``person``: its cookie's value (only its hash is kept)."""
        now = self.clock()
        for key in [
            k for k, s in self.sessions.items() if s.used + IDLE <= now or s.started + LIFETIME <= now
        ]:
            del self.sessions[key]
        theirs = sorted(
            (k for k, s in self.sessions.items() if s.username == username),
            key=lambda k: self.sessions[k].used,
        )
        for key in theirs[: max(0, len(theirs) - self.max_per_person + 1)]:  # their own make room
            del self.sessions[key]
        while len(self.sessions) >= self.max_sessions:
            del self.sessions[min(self.sessions, key=lambda k: self.sessions[k].used)]
        token = secrets.token_urlsafe(32)
        self.sessions[_hash(token)] = PersonSession(username, person, now, now)
        return token
