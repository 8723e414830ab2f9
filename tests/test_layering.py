"""Imports go one way: core <- ingest <- eval, core <- reader <- engine <- service <- eval; the
engine does not know the web app (eval runs it without one). Service imports ingest
in one module only: service/jobs.py runs admin jobs in the service (the one writer of the
embedded store)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "core": {"ingest", "reader", "engine", "service", "eval"},
    "ingest": {"engine", "service", "eval"},
    "reader": {"ingest", "engine", "service", "eval"},
    "engine": {"ingest", "service", "eval"},
    "service": {"ingest", "eval"},
    "eval": set(),
}
ALLOWED = {"service/jobs.py": {"ingest"}}  # the one exception, see the docstring


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_go_one_way(package: str) -> None:
    files = list((ROOT / package).rglob("*.py"))
    assert files
    for f in files:
        rel = f.relative_to(ROOT).as_posix()
        bad = imported_packages(f) & FORBIDDEN[package] - ALLOWED.get(rel, set())
        assert not bad, f"{rel} imports {bad}"
