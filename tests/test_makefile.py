"""`make run` installs only what running needs; `make test` adds the dev tools and the train extra
(checked with `make -n`, which prints the commands without running them)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def planned(target: str, venv: Path) -> str:
    return subprocess.run(
        ["make", "-n", target, f"VENV={venv}", f"TRAIN_VENV={venv}-train"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_installs_no_dev_extras_and_make_test_does(tmp_path: Path) -> None:
    run, test = planned("run", tmp_path / "venv"), planned("test", tmp_path / "venv")
    assert "pip install --quiet -e ." in run
    assert "[dev" not in run and "train]" not in run  # no torch where the service runs
    # the encoder is built (or found) as its own visible step, before the ingest needs it
    assert run.index("-m core.encoder_build") < run.index("-m ingest") < run.index("-m service")
    assert "-e '.[dev]'" in test and "-e '.[dev,train]'" not in test
    # the training code's tests run, in a venv of their own with the train extra
    assert "-e '.[train]'" in test and f"{tmp_path}/venv-train/bin/python -m pytest" in test
    assert "tests/reader/test_model.py" in test
    assert "pytest" in test
