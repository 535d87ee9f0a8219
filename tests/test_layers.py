"""The layers of the kit: the protocol library never imports the cast's apps or the command
line.  Only the tools that run the cast may: the lab (it assembles the cast), ``serve``
and ``cli`` (the command line itself), and the probe (it serves the kit's Agent Provider
for the resource under test).  httpx is imported in one module only."""

import ast
from pathlib import Path

KIT = Path(__file__).resolve().parents[1] / "aauth_kit"
#: Modules that run the cast and so may import it (and the CLI its own parts).
RUNS_THE_CAST = {"lab.py", "serve.py", "cli.py", "probe.py", "probe/agent_provider.py"}


def imported_names(path: Path) -> set[str]:
    """Every module ``path`` imports, as absolute dotted names (relative ones resolved)."""
    root = KIT if path.is_relative_to(KIT) else KIT.parent / "servers"
    package = [root.name, *path.relative_to(root).parent.parts]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def library_modules():
    for path in sorted(KIT.rglob("*.py")):
        relative = path.relative_to(KIT).as_posix()
        if relative not in RUNS_THE_CAST:
            yield relative, imported_names(path)


def test_the_library_never_imports_the_apps_or_the_cli():
    offenders = {
        relative: sorted(n for n in names if n.startswith(("aauth_kit.servers", "servers", "aauth_kit.cli")))
        for relative, names in library_modules()
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_httpx_is_imported_in_one_module():
    """The kit and the cast get httpx from ``aauth_kit.http_client`` (a successor may replace it)."""
    importers = sorted(
        path.relative_to(KIT.parent).as_posix()
        for path in [*KIT.rglob("*.py"), *(KIT.parent / "servers").rglob("*.py")]
        if any(n == "httpx" or n.startswith("httpx.") for n in imported_names(path))
    )
    assert importers == ["aauth_kit/http_client.py"]
