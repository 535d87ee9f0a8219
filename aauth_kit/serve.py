"""``aauth-kit serve`` and ``aauth-kit demo``: the cast as real servers on 127.0.0.1.

``serve`` runs the whole cast in dev mode at the seed's ports (PS 8765, backend 8000,
supply-chain 9999, market-analysis 9998) and the four-party pair (Access Server 9997, parts
catalog 9996) and the parts supplier 9995, so curl, a browser or an agent written in
another language can talk to it; identifiers are ``http://127.0.0.1:PORT`` (an explicit
dev mode: the draft wants ``https://host``).  ``demo`` plays the seed's consent story in
the terminal, printing every message.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from .asgi import BUFFERED, MAX_BODY, MAX_BUFFERED
from .connection_limits import ConnectionLimits
from .errors import AAuthError
from .jws import decode_unverified
from .lab import NAMES, SEED_PORTS, Lab
from .lifespan import ServerStartError
from .message import HttpMessage
from .server_proxy import browser_url


def _list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _count(text: str) -> int:
    """A cap: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def _person(text: str):
    from .servers.ps.store.persons import PersonAccount

    try:
        return PersonAccount.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _budget(text: str) -> int:
    value = int(text)
    if value < MAX_BODY:
        raise argparse.ArgumentTypeError(f"at least one body at the cap, {MAX_BODY} bytes")
    return value


#: The port option of each party of the cast.
PORT_OPTIONS = {
    "--ps-port": "ps",
    "--backend-port": "backend",
    "--sca-port": "supply_chain",
    "--maa-port": "market_analysis",
    "--as-port": "access_server",
    "--catalog-port": "catalog",
    "--supplier-port": "supplier",
}

#: The option of each cap of the PS a class operator may change: flag → (``Caps`` field, what
#: it bounds, a note after its default in ``--help``).
CAP_OPTIONS = {
    "--max-pending-per-agent": (
        "pending_per_agent",
        "requests one agent may leave waiting for a person at the PS; one more is answered 429",
        "",
    ),
    "--max-held-polls-per-agent": (
        "held_polls_per_agent",
        "polls of one agent the PS holds open at once under Prefer: wait; more are answered at once",
        "",
    ),
    "--max-missions-per-agent": (
        "missions_per_agent",
        "missions one agent may hold, active and proposed; one more proposal is answered 429",
        "",
    ),
    "--max-registrations-per-client": (
        "registrations_per_client",
        "agent registrations from one client address waiting for a person's approval; one more is "
        "answered 429",
        "; a class behind one NAT shares an address",
    ),
    "--max-pending-registrations": (
        "pending_registrations",
        "agent registrations waiting for approval from all clients together",
        "",
    ),
    "--max-log-per-mission": (
        "log_per_mission",
        "entries an agent may add to one mission's log (audit records, permission and interaction "
        "requests); one more is answered 429",
        "",
    ),
}


def _dest(flag: str) -> str:
    return flag[2:].replace("-", "_")


def add_cast_options(parser: argparse.ArgumentParser, *, seed_ports: bool) -> None:
    from .servers.ps.context import Caps

    for flag, name in PORT_OPTIONS.items():
        parser.add_argument(flag, type=int, default=SEED_PORTS[name] if seed_ports else 0)
    parser.add_argument(
        "--consent-scopes", type=_list, default=None, help="comma-separated scopes that need consent"
    )
    parser.add_argument(
        "--consent-prefixes",
        type=_list,
        default=None,
        help="comma-separated scope prefixes that need consent",
    )
    parser.add_argument(
        "--pending-ttl", type=float, default=600, metavar="SECONDS", help="lifetime of a pending consent"
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="an origin outside the cast the servers may fetch keys from and revoke at "
        "(repeatable; dev mode admits only the cast's own origins otherwise)",
    )
    limits = ConnectionLimits()
    parser.add_argument(
        "--max-connections",
        type=int,
        default=limits.max_connections,
        metavar="N",
        help="concurrent connections per server; one more evicts the oldest idle one "
        f"(default {limits.max_connections})",
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=limits.header_timeout,
        metavar="SECONDS",
        help="close a connection that has not sent complete request headers in this time "
        f"(default {limits.header_timeout:g})",
    )
    parser.add_argument(
        "--max-header-bytes",
        type=int,
        default=limits.max_header_bytes,
        metavar="BYTES",
        help=f"request line and headers larger than this are answered 431 (default {limits.max_header_bytes})",
    )
    caps = Caps()
    for flag, (field, bounds, note) in CAP_OPTIONS.items():
        default = getattr(caps, field)
        parser.add_argument(
            flag, type=_count, default=default, metavar="N", help=f"{bounds} (default {default}{note})"
        )
    parser.add_argument(
        "--max-buffered-bytes",
        type=_budget,
        default=MAX_BUFFERED,
        metavar="BYTES",
        help="request bodies all the servers may hold at once; a body that does not fit is answered"
        f" 503 with Retry-After before it is read (default {MAX_BUFFERED}; each body is capped at"
        f" {MAX_BODY})",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="where the cast keeps its state: the PS's SQLite file and every server's key (files 0600,"
        " directories 0700), so a restart keeps identities, sessions and tokens (default: a new"
        " temporary directory, lost to the next start)",
    )
    parser.add_argument(
        "--person",
        dest="persons",
        action="append",
        type=_person,
        default=[],
        metavar="NAME:PASSWORD[:admin]",
        help="a person who may sign in at the PS and at the parts supplier's page (repeatable); ':admin' at the end makes an "
        "administrator (the consent policy and the whole audit log); mcp-user / user123 is "
        "always there as the demo administrator unless named here",
    )


def lab_from(args) -> Lab:
    BUFFERED.limit = args.max_buffered_bytes  # one budget for the process, all the servers
    return Lab(
        dev=True,
        ports={name: getattr(args, _dest(flag)) for flag, name in PORT_OPTIONS.items()},
        consent_scopes=args.consent_scopes,
        consent_prefixes=args.consent_prefixes,
        pending_ttl=args.pending_ttl,
        data_dir=args.data_dir,
        persons=args.persons,
        allow_origins=args.allow_origin,
        limits=ConnectionLimits(args.max_connections, args.header_timeout, args.max_header_bytes),
        caps=caps_from(args),
    )


def caps_from(args):
    """The PS's ``Caps`` the options of :data:`CAP_OPTIONS` set (the others at their defaults)."""
    from .servers.ps.context import Caps

    return Caps(**{field: getattr(args, _dest(flag)) for flag, (field, _, _) in CAP_OPTIONS.items()})


def describe(lab: Lab) -> str:
    lines = ["aauth-kit cast (dev mode: identifiers are http://127.0.0.1:PORT, not https://host)"]
    for name, identifier in lab.identifiers.items():
        lines.append(f"  {NAMES[name]:<16} {identifier}")
    lines += [
        f"  backend web page {browser_url(lab.identifiers['backend'])}/",
        *(
            f"  person login     {p.username} / "
            + (p.password if (p.username, p.password) == ("mcp-user", "user123") else "(as given)")
            + (" (admin)" if p.admin else "")
            for p in lab.persons
        ),
        f"  consent scopes   {', '.join(lab.policy.scopes) or '(none)'}",
        f"  consent prefixes {', '.join(lab.policy.prefixes) or '(none)'}",
        f"  PS data          {lab.data_dir}",
    ]
    if lab.temporary:
        lines.append(
            "  (temporary: a new directory at every start, so persons' tokens, sessions and the"
            " servers' keys do not survive a restart; pass --data-dir DIR to keep them)"
        )
    return "\n".join(lines)


def serve(args) -> int:
    """Run until Ctrl-C or SIGTERM, then stop every server."""
    try:
        lab = lab_from(args)
    except (AAuthError, OSError, ValueError, ServerStartError) as exc:
        print(f"aauth-kit serve: cannot start: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(describe(lab), flush=True)
    print("Ctrl-C stops the cast.", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        lab.stop()
        print("stopped", flush=True)
    return 0


# -- demo -----------------------------------------------------------------------------------
def _short(value: str, limit: int = 96) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def render_message(message: HttpMessage) -> str:
    """A message as it looks on the wire, long values shortened, JWTs in bodies decoded."""
    if message.status is None:
        lines = [f"{message.method} {message.target_uri}"]
    else:
        lines = [f"HTTP/1.1 {message.status}"]
    lines += [f"{name}: {_short(value)}" for name, value in message.headers if name.lower() in _SHOWN]
    if message.body:
        lines.append("")
        lines.append(_short(message.body.decode("utf-8", "replace"), 400))
        try:
            body = json.loads(message.body)
        except ValueError:
            body = None
        if isinstance(body, dict):
            for name, value in body.items():
                if isinstance(value, str) and value.count(".") == 2 and name.endswith("token"):
                    try:
                        decoded = decode_unverified(value)
                    except AAuthError:
                        continue
                    lines.append(
                        f"  {name} decoded: {json.dumps(decoded.header)} {json.dumps(decoded.payload)}"
                    )
    return "\n".join(lines)


_SHOWN = {
    "signature-key",
    "signature-input",
    "aauth-requirement",
    "location",
    "retry-after",
    "prefer",
    "content-type",
    "signature-error",
    "cache-control",
}


def demo(args) -> int:
    """Play the seed's consent story: sign → 401 → person token → 401 + resource token →
    202 → consent → 200 → retry → 200, printing each exchange."""
    lab = lab_from(args)
    lab.trace.subscribe(
        lambda ex: print(
            f"\n── {ex.index + 1}. {ex.source} → {ex.target}\n{render_message(ex.request)}\n"
            f"── {ex.target} → {ex.source}\n{render_message(ex.response)}",
            flush=True,
        )
    )

    def on_interaction(interaction) -> None:
        print(f"\n>>> The PS needs the person's consent. Code {interaction.code}", flush=True)
        if args.approve or args.deny:
            lab.ps.decide(interaction.code, approved=bool(args.approve))
            print(
                f">>> decided from the command line: {'approved' if args.approve else 'denied'}", flush=True
            )
        else:
            print(f">>> Open {browser_url(interaction.link())} and log in as mcp-user / user123", flush=True)

    agent = lab.new_agent("demo", on_interaction=on_interaction, wait=30)
    print(describe(lab), flush=True)
    try:
        with lab.client(agent, source="Agent") as client:
            response = client.post(
                f"{lab.identifiers['supply_chain']}/optimize", json={"prompt": args.prompt}
            )
        print(f"\nResult ({response.status_code}):\n{json.dumps(response.json(), indent=2)[:2000]}")
        return 0 if response.status_code == 200 else 1
    except AAuthError as exc:
        print(f"\nThe flow ended with {exc.code}: {exc.detail}")
        return 1
    finally:
        lab.stop()
