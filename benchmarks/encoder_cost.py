"""Where the onnx-e5 encoder's time and memory go on this machine.

    OMP_NUM_THREADS=1 python benchmarks/encoder_cost.py

Prints, for the int8 and float32 builds: CPU-seconds per sequence of 16, 128 and 256 tokens with
one intra-op thread; the CPU cost of one query with two threads that sleep when idle (the
default) and that spin; and the peak RSS after each step of loading (the tokenizer, the
onnxruntime session, one 64-passage batch). Each measurement runs in its own child process so
that peak RSS and thread settings are its own. Builds into a temporary cache (about a minute).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _rss_mb() -> float:
    """Peak RSS of this process image (VmHWM): unlike getrusage's ru_maxrss it starts afresh
    at exec, so a child does not report the peak of the parent it was forked from (the build)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sequence_cost(folder: Path) -> dict[str, float]:
    """CPU-s per forward of one random sequence of each length, one thread."""
    import numpy as np
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(folder / "model.onnx"), opts)
    rng = np.random.default_rng(0)
    out = {}
    for length in (16, 128, 256):
        ids = rng.integers(5, 20000, (1, length), dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        session.run(None, feed)
        c0 = time.process_time()
        for _ in range(5):
            session.run(None, feed)
        out[f"{length} tokens"] = (time.process_time() - c0) / 5
    return out


def query_cost(folder: Path, spin: str) -> dict[str, float]:
    """CPU-ms and wall ms per short query with two threads, spinning on or off."""
    import onnxruntime as ort

    from core.encoder import Encoder

    class _Options(ort.SessionOptions):  # the spinning setting under test, not the default
        def __init__(self) -> None:
            super().__init__()
            self.add_session_config_entry("session.intra_op.allow_spinning", spin)

    ort.SessionOptions = _Options  # type: ignore[misc]
    enc = Encoder(folder, threads=2)
    questions = [f"query: 员工出差回来后多少天内要提交报销？ {i}" for i in range(100)]
    enc.embed(questions[:5])
    walls = []
    c0 = time.process_time()
    for q in questions:
        t0 = time.perf_counter()
        enc.embed([q])
        walls.append((time.perf_counter() - t0) * 1000)
    return {"cpu ms": (time.process_time() - c0) * 10, "wall p50 ms": statistics.median(walls)}


def memory_steps(folder: Path) -> dict[str, float]:
    """Peak RSS after importing, loading the tokenizer, the encoder, and one batch."""
    import onnxruntime  # noqa: F401
    from tokenizers import Tokenizer

    steps = {"imports": _rss_mb()}
    Tokenizer.from_file(str(folder / "tokenizer.json"))
    steps["+ tokenizer"] = _rss_mb()
    from core.encoder import Encoder

    enc = Encoder(folder, threads=1)
    steps["+ encoder (session and its own tokenizer)"] = _rss_mb()
    enc.embed(
        ["passage: " + "员工出差的住宿、交通和伙食费用须在出差结束后十天内提交报销。" * 8] * 64
    )
    steps["+ one batch of 64 passages of ~300 tokens"] = _rss_mb()
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)  # what, folder, arg
    args = parser.parse_args()
    if args.child:
        what, folder, arg = args.child
        fn = {"seq": lambda: sequence_cost(Path(folder)), "mem": lambda: memory_steps(Path(folder))}
        result = query_cost(Path(folder), arg) if what == "query" else fn[what]()
        print(json.dumps(result))
        return
    from core.encoder_build import ensure_model

    def child(*a: str) -> dict[str, float]:
        cmd = [sys.executable, __file__, "--child", *a]
        return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)

    with tempfile.TemporaryDirectory() as tmp:
        int8 = ensure_model(Path(tmp), quantise=True)
        fp32 = ensure_model(Path(tmp), quantise=False)
        for name, folder in (("int8", int8), ("fp32", fp32)):
            cost = child("seq", str(folder), "-")
            print(
                f"{name}: CPU-s per sequence, 1 thread: "
                + ", ".join(f"{k} {v:.3f}" for k, v in cost.items())
            )
        for spin, label in (("0", "idle threads sleep"), ("1", "idle threads spin")):
            q = child("query", str(int8), spin)
            print(
                f"int8 query, 2 threads, {label}: {q['cpu ms']:.1f} CPU-ms, wall p50 {q['wall p50 ms']:.1f} ms"
            )
        steps = child("mem", str(int8), "-")
        previous = 0.0
        for k, v in steps.items():
            print(f"peak RSS {k}: {v:.0f} MB ({v - previous:+.0f})")
            previous = v


if __name__ == "__main__":
    main()
