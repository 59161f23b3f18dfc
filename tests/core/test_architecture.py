"""The core does not know Google exists: only the composition root may import connectors."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("googleapiclient", "google.oauth2", "google.auth", "google_auth_httplib2", "httplib2", "connectors")
COMPOSITION_ROOT = {"app.py", "__main__.py", "wiring.py"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_core_modules_import_no_google_or_connector_code():
    offenders = []
    for path in (ROOT / "integration").rglob("*.py"):
        if path.name in COMPOSITION_ROOT and path.parent == ROOT / "integration":
            continue
        for name in _imports(path):
            if name.startswith(FORBIDDEN):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_project_never_reads_the_shared_folder():
    offenders = []
    for folder in ("integration", "connectors", "webhooks", "sandbox", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            if "../shared" in path.read_text(encoding="utf-8"):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
