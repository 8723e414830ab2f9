"""The reader's runtime parts need no torch; the whole package builds only on core."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
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


# What the service, the engine with its reader, and the eval runner import. (Not ingestion's
# parsers: unstructured's partitioners import spaCy, which imports torch wherever it is installed,
# which is why `make test` keeps torch in a venv of its own, .venv-train.)
SERVING = [
    "service.app",
    "service.server",
    "ingest.pipeline",
    "engine.pipeline",
    "engine.read",
    "reader.runtime",
    "eval.runner",
]


def test_the_service_engine_and_evals_load_no_torch_where_it_is_installed() -> None:
    """The static check above sees only the reader's own imports; this one imports the serving
    modules in a fresh interpreter and looks for torch in sys.modules (a library that imports
    torch when it finds it would pull it in). It runs where torch is: `make test` runs it in
    .venv-train, which has the train extra."""
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed, so nothing could import it")
    code = (
        "import importlib, sys\n"
        f"for name in {SERVING!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))[:5])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", out.stdout
