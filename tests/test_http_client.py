"""The kit's HTTP client library comes from one module (``aauth_kit.http_client``)."""

import ast
from pathlib import Path

import aauth_kit

ROOT = Path(aauth_kit.__file__).parent


def _imports_httpx(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "httpx" for a in node.names):
            return True
        if (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").split(".")[0] == "httpx"
        ):
            return True
    return False


def test_only_http_client_imports_httpx():
    importers = sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py") if _imports_httpx(p))
    assert importers == ["http_client.py"]
