"""Load a fixture module of tests/fixtures/reports by file path (tests/ is not a package on every path)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

REPORTS = Path(__file__).resolve().parents[1] / "fixtures" / "reports"


def reports_fixture(application: str) -> ModuleType:
    path = REPORTS / f"{application}.py"
    spec = importlib.util.spec_from_file_location(f"reports_fixture_{application}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
