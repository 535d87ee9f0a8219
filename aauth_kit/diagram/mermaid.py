"""The sequence diagram as mermaid ``sequenceDiagram`` text, the secondary form
(JupyterLab renders it in a ```` ```mermaid ```` fence); the same steps and labels as
the SVG (-11 "Detailed Flows" draws its flows the same way).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .labels import clean

if TYPE_CHECKING:
    from .model import SequenceDiagram


def render(diagram: SequenceDiagram) -> str:
    """``diagram`` as mermaid text.  Parties get aliases ``P1``, ``P2`` …; text goes
    through mermaid entity codes, so ``;``, ``#``, ``<``, ``>``, ``&`` and quotes
    cannot end a message or open a comment; the current step sits in a ``rect``."""
    exchanges = diagram.exchanges
    parties, steps = diagram.parties(exchanges), diagram.steps(exchanges)
    current = diagram.current(steps)
    alias = {party: f"P{i + 1}" for i, party in enumerate(parties)}
    lines = []
    if diagram.title:  # front matter; a JSON string is a YAML double-quoted scalar
        lines += ["---", f"title: {json.dumps(clean(diagram.title), ensure_ascii=False)}", "---"]
    lines.append("sequenceDiagram")
    lines += [f"    participant {alias[p]} as {_mermaid_text(p)}" for p in parties]
    for step in steps:
        a, b = alias[step.source], alias[step.target]
        block = [f"{a}->>{b}: {step.number}. {_mermaid_text(step.request)}"]
        if step.answered:
            block.append(f"{b}-->>{a}: {_mermaid_text(step.response)}")
        if step.note:
            where = f"over {a},{b}" if a != b else f"right of {a}"
            block.append(f"Note {where}: {_mermaid_text(step.note)}")
        if step.number == current:
            block = ["rect rgb(255, 241, 214)", *(f"    {line}" for line in block), "end"]
        lines += [f"    {line}" for line in block]
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    """Mermaid entity codes (``#59;``) for what would end a message, open a comment
    or be read as HTML; one line."""
    return "".join(_MERMAID_ESCAPES.get(c, c) for c in clean(text))


_MERMAID_ESCAPES = {c: f"#{ord(c)};" for c in '#;<>&"'}
