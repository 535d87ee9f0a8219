"""The agent's token cache: fresh tokens per resource origin and call chain."""

from aauth_kit.jws import sign_compact
from aauth_kit.keys import Key
from aauth_kit.token_cache import EXPIRY_MARGIN, TokenCache

NOW = 1_770_000_000
KEY = Key.from_seed("cache")
RES = "https://resource.example"


def token(exp: int) -> str:
    return sign_compact({"alg": KEY.alg, "typ": "aa-auth+jwt"}, {"exp": exp}, KEY)


def test_the_best_token_is_a_fresh_auth_token_then_a_person_token():
    cache = TokenCache(lambda: NOW)
    person, auth = token(NOW + 600), token(NOW + EXPIRY_MARGIN - 1)  # auth expires within the margin
    cache.remember(RES, "person_token", person, None)
    cache.remember(RES, "auth_token", auth, None)
    assert cache.best(RES, None) == person
    assert cache.token_for(f"{RES}/any/path", "auth_token") is None
    assert cache.token_for(f"{RES}/any/path", "person_token") == person


def test_another_call_chain_replaces_the_tokens():
    cache = TokenCache(lambda: NOW)
    cache.remember(RES, "person_token", token(NOW + 600), None)
    cache.remember(RES, "auth_token", token(NOW + 600), "upstream-1")
    assert cache[RES].keys() == {"auth_token", "upstream_token"}
    assert cache.best(RES, None) is None and cache.best(RES, "upstream-1") is not None
    cache.forget(RES)
    assert cache == {}


def test_c7_a_token_with_fewer_than_five_minutes_left_is_not_presented():
    """-11 "Re-authorization": the agent refreshes before expiry; a token with 4 minutes
    left is not presented, one with 5 is."""
    assert EXPIRY_MARGIN == 5 * 60
    cache = TokenCache(lambda: NOW)
    cache.remember(RES, "auth_token", token(NOW + 4 * 60), None)
    assert cache.best(RES, None) is None
    cache.remember(RES, "auth_token", token(NOW + 5 * 60), None)
    assert cache.best(RES, None) is not None
