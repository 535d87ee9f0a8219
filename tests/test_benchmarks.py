"""The benchmark harness runs end to end in its tiny pass and writes every key the
suite lists, with sane types.  No figure is compared with anything: numbers belong in
benchmarks, never in timed tests."""

from __future__ import annotations

import json
import numbers

import pytest

from benchmarks import suite
from benchmarks.harness import TINY, percentile, settings_from_env


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    output = tmp_path_factory.mktemp("bench") / "bench-results.json"
    assert suite.main(["--pass", "tiny", "--output", str(output)]) == 0
    return json.loads(output.read_text()), output


def test_every_issue_key_is_present_with_a_number(results):
    document, _ = results
    for key in suite.REQUIRED_KEYS:
        assert key in document, key
        if key == "notebooks_total_s":
            continue  # the tiny pass skips the notebooks and says so
        assert isinstance(document[key], numbers.Real) and not isinstance(document[key], bool), (
            key,
            document[key],
        )
        assert document[key] >= 0, key
    assert document["notebooks_total_s"] is None and "notebooks_total_s" in document["notes"]
    assert document["sign_verify_ratio_to_raw"] > 0 and document["sign_verify_ratio_to_best_peer"] > 0


def test_every_concurrent_agent_is_accounted_for(results):
    """The concurrency benchmark: completed + lost = agents, and a correct kit loses none."""
    document, _ = results
    assert isinstance(document["concurrent_agents_completed"], int)
    assert document["concurrent_agents_completed"] + document["concurrent_agents_lost"] == TINY.agents
    assert document["concurrent_agents_lost"] == 0, document["notes"]


def test_the_document_says_where_and_how_it_was_measured(results):
    document, _ = results
    assert document["pass"] == "tiny"
    assert {"cpu", "cores", "python"} <= set(document["machine"])
    assert set(document["targets"]) == set(suite.TARGETS)
    for report in document["targets"].values():
        assert report["met"] in (True, False, None) and report["target"].startswith(("<=", ">="))
    assert not any(note.startswith("failed") for note in document["notes"].values()), document["notes"]


def test_the_table_can_be_printed_again_from_the_file(results, capsys):
    _, output = results
    assert suite.main(["--table", str(output)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("| Figure | Value | Target |")
    assert "Sign + verify, kit / raw" in printed and "tiny pass" in printed


def test_bench_quick_selects_the_quick_pass():
    assert settings_from_env({"BENCH_QUICK": "1"}).name == "quick"
    assert settings_from_env({}).name == "full"
    assert settings_from_env({"BENCH_PASS": "tiny"}) is TINY


def test_percentile_interpolates_between_ranks():
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0], 50) == 1.5
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 100) == 5.0
    assert percentile([7.0], 99) == 7.0


def test_the_3s_poller_is_run_not_derived(results):
    """The consent benchmark: the seed's poller is measured in the same run — it waited for a
    poll (Retry-After: 3, no Prefer: wait), so it took longer than the held poll."""
    document, _ = results
    assert document["consent_to_token_3s_polling_samples"] == TINY.polling_runs
    assert document["consent_to_token_3s_polling_mean_ms"] > document["consent_to_token_p50_ms"]
    assert "consent_to_token_3s_polling" not in document["notes"]
