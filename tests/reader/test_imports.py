"""The reader's runtime parts need no torch; the whole package builds only on core."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_layering import ROOT, imported_packages

RUNTIME = ["data.py", "tokens.py", "metrics.py", "runtime.py", "export.py", "__init__.py"]


@pytest.mark.parametrize("name", RUNTIME)
def test_runtime_modules_do_not_import_torch_or_training_modules(name: str) -> None:
    path = ROOT / "reader" / name
    assert "torch" not in imported_packages(path)
    for line in path.read_text(encoding="utf-8").splitlines():
        assert not line.lstrip().startswith(("from reader.model", "from reader.train")), line
        assert not line.lstrip().startswith(("from reader import model", "import reader.")), line


def test_reader_imports_only_core_of_the_project() -> None:
    for path in Path(ROOT / "reader").glob("*.py"):
        assert not imported_packages(path) & {"ingest", "service", "eval"}, path
