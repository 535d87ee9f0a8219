"""The agent's side of a key rotation at its Agent Provider (the kit's ``POST /agent/rotate``).

-11 "Agent Token Structure": the agent identifier (``sub``) is stable across key rotations;
how an agent asks its Agent Provider for a token binding a new key is left to the provider.
The kit's request is signed twice (Signature Keys -09 "Multiple Signatures"): by the current key,
presenting the current agent token, and by the new key, carried as ``hwk``.
"""

from __future__ import annotations

from .keys import Key
from .message import HttpMessage
from .profile import covered_components, sign_request
from .signature_key import hwk_key, jwt_key

#: The signature label under which a rotating agent's new key signs ``POST /agent/rotate``.
NEW_KEY_LABEL = "new"


def sign_key_rotation(
    message: HttpMessage, key: Key, agent_token: str, new_key: Key, *, created: int
) -> None:
    """Sign ``POST /agent/rotate``: ``Signature-Key`` gets both members first (``sig=jwt``
    with the agent token, ``new=hwk`` with the new key), then ``key`` and ``new_key`` each sign
    the same components, the ``signature-key`` field among them — so each signature vouches
    for both keys (Signature Keys -09 "Multiple Signatures": the complete field is populated
    before any signature is created, and each signature covers it)."""
    members = [jwt_key(agent_token), hwk_key(new_key, label=NEW_KEY_LABEL)]
    message.set_header("Signature-Key", ", ".join(member.to_member() for member in members))
    components = covered_components(message, cover_body=bool(message.body))
    for member, signer in zip(members, (key, new_key)):
        sign_request(message, signer, None, label=member.label, components=components, created=created)
