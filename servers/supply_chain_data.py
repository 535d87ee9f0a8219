"""The supply-chain agent's business logic: rule-based, deterministic, no LLM.

The seed's supply-chain agent answered "Optimize Laptop Supply Chain" with a summary and
recommendations.  Here the answer comes from a small fixed inventory and three rules a
reader can check by hand: reorder what runs out before the next delivery, flag single
suppliers, and move stock from slow to fast sellers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Part:
    name: str
    on_hand: int  # units in the warehouse
    weekly_demand: int  # units used per week
    lead_time_weeks: int  # weeks from order to delivery
    suppliers: tuple[str, ...]

    @property
    def weeks_of_cover(self) -> float:
        return self.on_hand / self.weekly_demand

    @property
    def reorder_quantity(self) -> int:
        """Enough for the lead time plus two weeks of safety stock, minus what is on hand."""
        return max(0, self.weekly_demand * (self.lead_time_weeks + 2) - self.on_hand)


INVENTORY: tuple[Part, ...] = (
    Part("14-inch display panel", 1_200, 400, 4, ("Panelworks",)),
    Part("battery pack 56 Wh", 2_600, 380, 3, ("VoltCell", "Ampere Ltd")),
    Part("16 GB memory module", 900, 450, 5, ("Memora", "DRAMCo")),
    Part("laptop chassis", 5_000, 390, 2, ("Shellcraft", "Casetech")),
    Part("65 W USB-C charger", 800, 410, 6, ("ChargeOne",)),
)


def inventory() -> list[dict]:
    """The stock the ``supply-chain:read`` scope lets an agent see."""
    return [
        {
            "part": p.name,
            "on_hand": p.on_hand,
            "weekly_demand": p.weekly_demand,
            "lead_time_weeks": p.lead_time_weeks,
            "weeks_of_cover": round(p.weeks_of_cover, 1),
        }
        for p in INVENTORY
    ]


def check() -> dict:
    """The ``supply-chain:check`` health check: which parts run out before a delivery could arrive."""
    at_risk = [p.name for p in INVENTORY if p.weeks_of_cover < p.lead_time_weeks]
    return {"parts": len(INVENTORY), "at_risk": at_risk, "healthy": not at_risk}


def optimize(prompt: str, optimization_type: str = "inventory") -> dict:
    """The ``supply-chain:optimize`` result: a summary and ordered recommendations."""
    recommendations = []
    for part in sorted(INVENTORY, key=lambda p: p.weeks_of_cover - p.lead_time_weeks):
        if part.weeks_of_cover < part.lead_time_weeks:
            recommendations.append(
                f"Reorder {part.reorder_quantity} × {part.name} now: {part.weeks_of_cover:.1f} weeks of cover "
                f"against a {part.lead_time_weeks}-week lead time."
            )
    for part in INVENTORY:
        if len(part.suppliers) == 1:
            recommendations.append(
                f"Qualify a second supplier for the {part.name} (only {part.suppliers[0]} today)."
            )
    surplus = [p for p in INVENTORY if p.weeks_of_cover > 3 * p.lead_time_weeks]
    for part in surplus:
        recommendations.append(
            f"Slow purchasing of the {part.name}: {part.weeks_of_cover:.1f} weeks of cover on hand."
        )
    at_risk = sum(1 for p in INVENTORY if p.weeks_of_cover < p.lead_time_weeks)
    summary = (
        f"{optimization_type.capitalize()} optimization for the laptop supply chain: {at_risk} of {len(INVENTORY)} parts "
        f"run out before their next delivery; {len(recommendations)} recommendations."
    )
    return {
        "prompt": prompt,
        "optimization_type": optimization_type,
        "summary": summary,
        "recommendations": recommendations,
    }


def wants_market_analysis(prompt: str) -> bool:
    """The seed's rule: the word "market" in the prompt brings in the market-analysis agent."""
    return "market" in prompt.lower()
