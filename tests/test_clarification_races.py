"""A late clarification answer meeting another party's change (servers/ps/pending_url.py's POST at
the pending URL): the sweep expiring the request or a poll taking its final answer between the
handler's check and its write leaves the draft's own answer (-11 "Polling Error Codes": ``408
expired``, then ``410``), never a bare ``500``; and any exception a PS endpoint lets escape is
problem+json ``500 server_error`` with its traceback logged (-11 "Error Response Format")."""

from __future__ import annotations

import logging

from aauth_kit.servers.ps import pending_url
from aauth_kit.servers.ps.clarification import ANSWER_TIMEOUT
from aauth_kit.servers.ps.sweep import sweep

from .ps_world import error_of, world_fixture
from .test_clarification import answer, asked, defer

world = world_fixture()


def test_clarification_the_sweep_expires_the_request_between_the_check_and_the_answer(world, monkeypatch):
    """The request is live when the POST reads it; the sweep moves it to ``expired`` before the
    answer is written: the agent is told ``408 expired``, then the URL is gone."""
    url, code = defer(world)
    asked(world, code)
    store, revise = world.ps.store, world.ps.store.revise

    def swept_first(pending_id, change):
        world.clock.advance(ANSWER_TIMEOUT + 1)
        assert sweep(world.ps.context)["pending_expired"] == 1
        return revise(pending_id, change)

    monkeypatch.setattr(store, "revise", swept_first)
    late = answer(world, url)
    assert (late.status_code, error_of(late)) == (408, "expired")
    monkeypatch.undo()
    assert world.poll(url).status_code == 410


def test_clarification_a_poll_takes_the_final_answer_between_the_check_and_the_answer(world, monkeypatch):
    """The request expired and a poll claims its final answer while the POST is about to: the
    POST gets ``410`` (the answer was given once), not an error of its own."""
    url, code = defer(world)
    asked(world, code)
    world.clock.advance(ANSWER_TIMEOUT + 1)
    claim = world.ps.store.claim_answer

    def polled_first(pending_id):
        assert claim(pending_id) is not None  # the poll's
        return claim(pending_id)

    monkeypatch.setattr(world.ps.store, "claim_answer", polled_first)
    late = answer(world, url)
    assert (late.status_code, error_of(late)) == (410, "invalid_code")


def test_an_exception_escaping_a_ps_endpoint_is_problem_json_and_logged(world, monkeypatch, caplog):
    url, code = defer(world)
    asked(world, code)
    world.clock.advance(ANSWER_TIMEOUT + 1)

    def broken(ctx, pending):
        raise RuntimeError("a bug in the final answer")

    monkeypatch.setattr(pending_url, "_final_answer", broken)
    with caplog.at_level(logging.ERROR, logger="aauth_kit.asgi"):
        late = answer(world, url)
    assert (late.status_code, error_of(late)) == (500, "server_error")
    assert late.headers["content-type"] == "application/problem+json"
    assert "a bug in the final answer" in caplog.text and "Traceback" in caplog.text
