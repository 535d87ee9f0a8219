"""aauth-kit: learn AAuth (Agent Auth, draft-hardt-oauth-aauth-protocol-11) by running it."""

__version__ = "0.1.0"
