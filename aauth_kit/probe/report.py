"""What came back and the verdicts: the :class:`Answer` to each request, the
:class:`Result` of each check and the :class:`Report` of a run, as a table or JSON.

The outcomes: ``PASS`` (the answer -11 requires), ``FAIL``, ``INFO`` (an answer the draft
allows for a resource that stopped at an earlier step) and ``SKIP`` (a check the probe
cannot do against this target: no Agent Provider the resource trusts, no person, nothing
of the kind at that URL).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..http_client import httpx
from .checks import VERIFY, Check

PASS, FAIL, INFO, SKIP = "PASS", "FAIL", "INFO", "SKIP"
#: A long quoted parameter (a resource token) in the table: its first characters only.
_LONG = re.compile(r'"([^"]{24})[^"]{8,}"')


@dataclass
class Answer:
    """The parts of a response the checks judge; ``failure`` when there was none."""

    status: int | None = None
    signature_error: str | None = None
    requirement: str | None = None
    accept_signature_scheme: str | None = None
    detail: str | None = None
    error: str | None = None  # the body's error code (-11 "Error Response Format")
    failure: str | None = None

    @classmethod
    def of(cls, response: httpx.Response) -> Answer:
        detail = error = None
        try:
            body = response.json()
            if isinstance(body, dict):
                detail = body.get("detail") or body.get("error_description")
                error = body.get("error")
        except ValueError:
            pass
        return cls(
            status=response.status_code,
            signature_error=response.headers.get("signature-error"),
            requirement=response.headers.get("aauth-requirement"),
            accept_signature_scheme=response.headers.get("accept-signature-scheme"),
            detail=detail if isinstance(detail, str) else None,
            error=error if isinstance(error, str) else None,
        )

    def describe(self) -> str:
        if self.failure:
            return self.failure
        parts = [str(self.status)]
        if self.signature_error is not None:
            parts.append(self.signature_error.replace("error=", "", 1))
        if self.requirement is not None:
            parts.append(_LONG.sub(r'"\1…"', self.requirement))
        if self.error is not None and self.signature_error is None and self.status not in (401, None):
            parts.append(self.error)
        if self.accept_signature_scheme is not None:
            parts.append(f"Accept-Signature-Scheme: {self.accept_signature_scheme}")
        if self.status == 401 and self.signature_error is None and self.requirement is None:
            parts.append("(no Signature-Error)")
        return " ".join(parts)

    def to_json(self) -> dict:
        return {name: value for name, value in self.__dict__.items() if value is not None}


@dataclass
class Result:
    """The verdict on one check."""

    check: Check
    outcome: str
    why: str = ""
    answer: Answer | None = None

    def to_json(self) -> dict:
        return {
            "id": self.check.id,
            "title": self.check.title,
            "section": self.check.section,
            "expected": self.check.expected.describe(),
            "got": self.answer.describe() if self.answer else None,
            "answer": self.answer.to_json() if self.answer else None,
            "result": self.outcome,
            "why": self.why,
        }


@dataclass
class Report:
    """Every check's :class:`Result`; :attr:`exit_code` is 1 when any check failed."""

    method: str
    url: str
    results: list[Result] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(result.outcome == outcome for result in self.results)

    @property
    def exit_code(self) -> int:
        return 1 if self.count(FAIL) else 0

    def summary(self) -> str:
        counts = ", ".join(f"{self.count(o)} {o}" for o in (PASS, FAIL, INFO, SKIP))
        return f"{len(self.results)} checks: {counts}"

    def table(self) -> str:
        """The human form: one row per check, the reason under each FAIL, INFO and SKIP."""
        titles = ("result", "check", "draft", "expected", "got")
        rows = [
            (
                r.outcome,
                r.check.id,
                r.check.step,
                r.check.expected.describe(),
                r.answer.describe() if r.answer else "-",
            )
            for r in self.results
        ]
        widths = [max(len(row[i]) for row in [titles, *rows]) for i in range(4)]
        lines = [
            f"aauth-kit probe: {self.method} {self.url}",
            f'draft-hardt-oauth-aauth-protocol-11 {VERIFY[4:]}, Signature Keys -09 "Signature-Error HTTP Response Header"',
            "",
        ]
        for row, result in zip([titles, *rows], [None, *self.results]):
            lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])
            if result is not None and result.outcome in (FAIL, INFO):
                lines.append(f"       {result.why} [{result.check.section}]")
            elif result is not None and result.outcome == SKIP:
                lines.append(f"       {result.why}")
        lines += ["", self.summary()]
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "method": self.method,
            "url": self.url,
            "results": [result.to_json() for result in self.results],
            "summary": {o.lower(): self.count(o) for o in (PASS, FAIL, INFO, SKIP)},
            "exit_code": self.exit_code,
        }
