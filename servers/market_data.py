"""The market-analysis agent's business logic: rule-based and deterministic (no LLM).

Fixed quarterly figures for the laptop market; the analysis reads trends off them the
way an analyst would: growth quarter on quarter, the fastest-growing segment, and the
price pressure on components.
"""

from __future__ import annotations

QUARTERLY_UNITS = {  # millions of laptops shipped, by segment
    "business": (14.1, 14.6, 15.2, 15.9),
    "consumer": (22.0, 21.4, 21.9, 22.3),
    "education": (6.2, 7.9, 8.4, 6.8),
}
COMPONENT_PRICE_CHANGE = {  # percent over the last quarter
    "memory": 12.0,
    "display panels": -3.5,
    "batteries": 1.2,
}


def _growth(series: tuple[float, ...]) -> float:
    return round((series[-1] - series[-2]) / series[-2] * 100, 1)


def analyze(question: str) -> dict:
    """The ``market-analysis:analyze`` result."""
    growth = {segment: _growth(units) for segment, units in QUARTERLY_UNITS.items()}
    fastest = max(growth, key=growth.get)
    rising = [name for name, change in COMPONENT_PRICE_CHANGE.items() if change > 5]
    findings = [
        f"{segment.capitalize()} laptops: {units[-1]} M units last quarter ({growth[segment]:+.1f} % on the quarter before)."
        for segment, units in QUARTERLY_UNITS.items()
    ]
    findings += [
        f"{name.capitalize()} prices rose {COMPONENT_PRICE_CHANGE[name]:.1f} % — buy ahead."
        for name in rising
    ]
    return {
        "question": question,
        "summary": f"Demand grows fastest in the {fastest} segment ({growth[fastest]:+.1f} %); "
        f"{len(rising)} component price{'s are' if len(rising) != 1 else ' is'} rising fast.",
        "findings": findings,
        "growth_percent": growth,
    }
