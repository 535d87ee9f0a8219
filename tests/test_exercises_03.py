"""Notebook 03's exercises: the stub is "not attempted", the reference answer passes, a
plausible wrong answer fails with a sentence that helps."""

from __future__ import annotations

import re

from aauth_kit import jws
from aauth_kit.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, nb03, stub

from .conftest import untouched


# -- q1: -11 "Agent Token Verification" cnf.jwk, compared by RFC 7638 thumbprint ----------------------
def test_q1_stub_is_not_attempted():
    assert nb03.q1.check(untouched).status == NOT_ATTEMPTED
    assert nb03.q1.check(stub).status == NOT_ATTEMPTED
    assert nb03.q1.check(None).status == NOT_ATTEMPTED


def test_q1_reference_passes():
    result = nb03.q1.check(nb03.q1.reference_answer("is_bound_to"))
    assert result.status == CORRECT, result.message


def test_q1_comparing_jwk_dicts_fails():
    """The same key written with a kid (or other members) is still the same key."""

    def dict_compare(agent_token, key):
        return jws.decode_unverified(agent_token).payload["cnf"]["jwk"] == key.public_jwk(kid=False)

    result = nb03.q1.check(dict_compare)
    assert result.status == INCORRECT
    assert "thumbprint" in result.message

    def always_true(agent_token, key):
        return True

    assert nb03.q1.check(always_true).status == INCORRECT


def test_q1_a_non_boolean_answer_is_named():
    result = nb03.q1.check(lambda token, key: "yes")
    assert result.status == INCORRECT and "True or False" in result.message


# -- q2: -11 "Agent Identifiers" ----------------------------------------------------------------------
def test_q2_stub_is_not_attempted():
    assert nb03.q2.check(untouched).status == NOT_ATTEMPTED


def test_q2_reference_passes():
    result = nb03.q2.check(nb03.q2.reference_answer("is_top_level_agent"))
    assert result.status == CORRECT, result.message


def test_q2_lowercase_only_local_part_fails():
    """The pre -11 syntax (lowercase local part only) misses the capitals -11 allows."""
    old = re.compile(r"aauth:[a-z0-9._-]{1,255}@[a-z0-9.-]+")
    result = nb03.q2.check(lambda identifier: old.fullmatch(identifier) is not None)
    assert result.status == INCORRECT
    assert "aauth:Notebook@ps.example" in result.message


def test_q2_allowing_plus_fails():
    """A top-level agent must not use the sub-agent ``+``."""
    loose = re.compile(r"aauth:[A-Za-z0-9._+-]{1,255}@[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?")
    result = nb03.q2.check(lambda identifier: loose.fullmatch(identifier) is not None)
    assert result.status == INCORRECT
    assert "notebook+search" in result.message


def test_hints_and_solutions_print(capsys):
    for exercise in (nb03.q1, nb03.q2):
        exercise.hint(2)
        exercise.solution()
    out = capsys.readouterr().out
    assert out.count("Hint 2/2") == 2 and out.count("def ") == 2
