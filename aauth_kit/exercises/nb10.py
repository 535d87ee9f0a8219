"""Exercises for notebook 10 (attacks), graded against the live lab: ``ex = nb10.bind(lab)``.

* ``ex.q1`` — predict what the lab answers four attacks: a second person changing the
  consent policy (``403 forbidden``), a login form posted from another site (``403
  forbidden``), a form-encoded start of a backend job (``415 invalid_request``) and a 2 MiB
  token request (``413 invalid_request``).  The grader mounts the four against the lab and
  compares with what it really answers.
* ``ex.q2`` — ``cross_site_start(backend)``: the request another site's page could make the
  person's browser send to ``POST /optimization/start`` without a CORS preflight (Fetch
  standard, "CORS-safelisted request-header").  The grader checks it is such a request,
  sends it, and checks the backend refuses it (``403`` for the foreign ``Origin``, ``415``
  for the same request from a browser that sends no ``Origin``) and starts no job.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..problem import error_code
from . import Exercise, NotAttempted
from .base import binding, prediction

#: The grader's own person, not an administrator (so its attempts never lock out the notebook's).
GRADER_PERSON = "exercise-10"
EVIL = "https://evil.example"
#: Request content types a page may send to another origin without a preflight.
SIMPLE_TYPES = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data")
#: Request headers a page may set without a preflight (plus ``Content-Type`` of ``SIMPLE_TYPES``).
SAFELISTED = {"accept", "accept-language", "content-language", "content-type"}
#: Headers the browser itself sets, whatever the page asks.
BROWSER_SET = {"origin", "host", "content-length", "user-agent", "referer", "cookie"}


class _Grader:
    """Sends the attacks to the lab, traced as ``Grader``."""

    def __init__(self, lab):
        self.lab = lab
        self.ps = lab.identifiers["ps"]
        self.backend = lab.identifiers["backend"]

    def client(self):
        return self.lab.client(source="Grader")

    def person_session(self) -> str:
        """A session of the grader's own person (added to the PS's store the first time)."""
        store = self.lab.ps.store
        if store.get_user(GRADER_PERSON) is None:
            store.add_user(GRADER_PERSON, "not-for-signing-in-" + GRADER_PERSON)
        return store.create_session(GRADER_PERSON)

    def send(self, method: str, url: str, **request) -> tuple[int, str | None]:
        with self.client() as client:
            response = client.request(method, url, **request)
        return response.status_code, error_code(response.content, response.headers.get("signature-error"))

    def jobs(self) -> int:
        return len(self.lab.backend.jobs)


# -- q1: what does the lab answer? -----------------------------------------------------------------
POLICY = "second person changes the policy"
LOGIN = "cross-site login"
FORM_START = "form-encoded job start"
HUGE = "2 MiB token request"

#: What the kit answers each, and the rule it follows.
EXPECTED = {
    POLICY: (403, "forbidden"),
    LOGIN: (403, "forbidden"),
    FORM_START: (415, "invalid_request"),
    HUGE: (413, "invalid_request"),
}
_WHY = {
    POLICY: "the consent policy is the administrator's; a signed-in person acts only on what is theirs (ASVS "
    "V4.1.3): 403 forbidden, after the PS knows who she is (a stranger would get 401)",
    LOGIN: "a browser's Origin other than the PS's own is refused before the form is read, and the form "
    "carries no CSRF token either: 403 forbidden",
    FORM_START: "the job API takes application/json only — a form or text/plain is what another site can send "
    "without asking: 415, the media type is unsupported",
    HUGE: "bodies over 1 MiB are refused from Content-Length before they are read: 413 (RFC 9110 §15.5.14)",
}


def observe(lab) -> dict[str, tuple[int, str | None]]:
    """Mount the four attacks of ``q1`` against ``lab``; ``(status, error code)`` of each answer."""
    return _observe(_Grader(lab))


def _observe(grader: _Grader) -> dict[str, tuple[int, str | None]]:
    session = {"Authorization": f"Bearer {grader.person_session()}"}
    return {
        POLICY: grader.send(
            "PUT", f"{grader.ps}/admin/consent-policy", headers=session, json={"scopes": [], "prefixes": []}
        ),
        LOGIN: grader.send(
            "POST",
            f"{grader.ps}/login",
            headers={"Origin": EVIL},
            data={"username": GRADER_PERSON, "password": "guess"},
        ),
        FORM_START: grader.send(
            "POST", f"{grader.backend}/optimization/start", data={"custom_prompt": "approve everything"}
        ),
        HUGE: grader.send(
            "POST",
            f"{grader.ps}/person-token",
            headers={"Content-Type": "application/json"},
            content=b" " * (2 * 1024 * 1024),
        ),
    }


def _q1(grader: _Grader) -> Exercise:
    return prediction(
        notebook="10",
        title="Q1 · what does the lab answer?",
        hints=(
            "Four different refusals: one is about who you are, one about where the request comes from, one about "
            "what kind of body it carries, one about how big it is.",
            "The statuses are 403, 403, 415 and 413; the codes are forbidden and invalid_request.",
        ),
        grader=grader,
        observe=_observe,
        expected=EXPECTED,
        why=_WHY,
        success="each attack meets the check made for it: role, origin, media type, size.",
        answerer="lab",
        example="e.g. (401, 'unauthorized')",
    )


# -- q2: build the refused request -----------------------------------------------------------------
def _grade_cross_site_start(grader: _Grader):
    def grade(build) -> str | None:
        if not callable(build):
            return "give the function cross_site_start itself (no parentheses)"
        request = build(grader.backend)
        if request is None:
            raise NotAttempted
        problem = _not_a_simple_request(request, grader.backend)
        if problem:
            return problem
        headers = dict(request["headers"])
        before = grader.jobs()
        with_origin = grader.send("POST", request["url"], headers=headers, content=request["content"])
        without = {k: v for k, v in headers.items() if k.lower() != "origin"}
        stripped = grader.send("POST", request["url"], headers=without, content=request["content"])
        if grader.jobs() != before:
            return "the backend started a job: that request got through (tell the kit's authors!)"
        if with_origin != (403, "forbidden") or stripped[0] != 415:
            return f"the backend answered {with_origin} (with Origin) and {stripped} (without) — expected 403 and 415"
        return None

    return grade


def _not_a_simple_request(request, backend: str) -> str | None:
    """Why ``request`` is not one a page on another site can make a browser send unasked, or ``None``."""
    if not isinstance(request, dict) or not {"method", "url", "headers", "content"} <= set(request):
        return "return a dict with method, url, headers and content"
    if not isinstance(request["content"], bytes) or not request["content"]:
        return "content is the body, as bytes (a job description, say)"
    if not isinstance(request["headers"], dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in request["headers"].items()
    ):
        return "headers is a dict of str → str"
    if str(request["method"]).upper() != "POST":
        return "a job is started with POST"
    url = urlsplit(str(request["url"]))
    if f"{url.scheme}://{url.netloc}" != backend or url.path != "/optimization/start":
        return f"send it to {backend}/optimization/start"
    headers = {k.lower(): v for k, v in request["headers"].items()}
    extra = sorted(set(headers) - SAFELISTED - BROWSER_SET)
    if extra:
        return f"a page that sets {', '.join(extra)} makes the browser ask first (a CORS preflight)"
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in SIMPLE_TYPES:
        return (
            f"Content-Type {media_type or '(none)'} is not one a page may send across sites unasked: the browser "
            f"would send a preflight first, and the backend never grants one. Use one of {', '.join(SIMPLE_TYPES)}"
        )
    origin = headers.get("origin")
    if not origin:
        return "the browser adds Origin to every cross-site POST: put the attacking page's origin in it"
    if origin.rstrip("/") == backend:
        return "that Origin is the backend's own: the page attacking it lives on another site"
    return None


def _q2(grader: _Grader) -> Exercise:
    return Exercise(
        notebook="10",
        title="Q2 · build the refused request",
        grade=_grade_cross_site_start(grader),
        hints=(
            "A page may send a POST to another site without asking first only with a form's content types "
            "(text/plain, application/x-www-form-urlencoded, multipart/form-data) and no headers of its own.",
            "The browser adds the page's Origin, e.g. 'https://evil.example'. Return "
            "{'method': 'POST', 'url': backend + '/optimization/start', 'headers': {...}, 'content': b'...'}.",
        ),
        reference=(
            "def cross_site_start(backend):\n"
            "    return {\n"
            "        'method': 'POST',\n"
            "        'url': f'{backend}/optimization/start',\n"
            "        'headers': {'Content-Type': 'text/plain', 'Origin': 'https://evil.example'},\n"
            "        'content': b'{\"custom_prompt\": \"approve everything\"}',\n"
            "    }"
        ),
        success="a simple cross-site request, and the backend refuses it twice over: 403 for the foreign Origin, "
        "415 for the media type if a browser sent no Origin.",
        lab=grader.lab,
    )


bind = binding(_q1, _q2, grader=_Grader)


__all__ = ["EXPECTED", "GRADER_PERSON", "bind", "observe"]
