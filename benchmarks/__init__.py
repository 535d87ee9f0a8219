"""Ratio benchmarks for the kit (``make bench``).

Every figure is measured in one run on one machine and, where a comparison makes
sense, reported as a ratio against something measured in the same run: the raw
``cryptography`` Ed25519 calls (the physical limit), the peer libraries
``aauth-signing`` and ``http-message-signatures``, bare ``pyjwt``, the seed's
3-second polling, the unprotected route.  ``python -m benchmarks`` prints the table
and writes ``bench-results.json`` at the repository root; ``BENCH_QUICK=1`` runs a
reduced pass.  Numbers live here, never in timed tests.
"""
