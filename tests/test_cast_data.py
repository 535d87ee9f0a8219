"""The cast's business rules (rule-based, no LLM): recomputed by hand from the fixed data."""

from aauth_kit.servers import market_data
from aauth_kit.servers import supply_chain_data as scd


def test_parts_at_risk_are_those_running_out_before_delivery():
    # display: 1200/400 = 3.0 weeks < 4; memory: 2.0 < 5; charger: ~1.95 < 6
    assert scd.check() == {
        "parts": 5,
        "at_risk": ["14-inch display panel", "16 GB memory module", "65 W USB-C charger"],
        "healthy": False,
    }


def test_optimize_orders_the_most_urgent_reorder_first_and_flags_single_suppliers():
    result = scd.optimize("Optimize laptop supply chain")
    first = result["recommendations"][0]
    # charger: cover 1.95 vs lead 6 is the largest gap; reorder 410 × 8 − 800 = 2480
    assert first.startswith("Reorder 2480 × 65 W USB-C charger")
    assert any("second supplier for the 14-inch display panel" in r for r in result["recommendations"])
    assert any("Slow purchasing of the laptop chassis" in r for r in result["recommendations"])
    assert "3 of 5 parts" in result["summary"]


def test_market_analysis_is_requested_by_the_word_market():
    assert scd.wants_market_analysis("Optimize with MARKET analysis")
    assert not scd.wants_market_analysis("Optimize laptop supply chain")


def test_market_analysis_reads_growth_off_the_quarterly_series():
    result = market_data.analyze("laptops?")
    # business 15.2 → 15.9 = +4.6 %, consumer +1.8 %, education −19.0 %
    assert result["growth_percent"] == {"business": 4.6, "consumer": 1.8, "education": -19.0}
    assert result["summary"].startswith("Demand grows fastest in the business segment (+4.6 %)")
    assert any(f.startswith("Memory prices rose 12.0 %") for f in result["findings"])
