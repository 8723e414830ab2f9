"""Peak memory and CPU of syncing one big text document (issue 20's 16 MB case).

    OMP_NUM_THREADS=1 python benchmarks/big_document.py --mb 16

Writes an English text of `--mb` MB (sentences drawn from a small vocabulary, seeded) into a
temporary folder and syncs it into a fresh embedded store with the hashing embedder (the real
encoder would take an hour for 59k chunks here; the memory this measures is the pipeline's, not
the encoder's). Prints the chunks written, CPU-seconds of the sync and the process's peak RSS
(VmHWM, which includes the imports: ~290 MB before the sync).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from core.embedders import HashingEmbedder
from core.settings import Settings
from core.store import open_store
from ingest.pipeline import Ingestor

WORDS = "policy leave travel budget approval manager office holiday salary review quarter report"


def peak_mib() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        return next(int(line.split()[1]) // 1024 for line in f if line.startswith("VmHWM"))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=16.0)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    rng, words = random.Random(1), WORDS.split()
    parts, size = [], 0
    while size < args.mb * 1024 * 1024:
        sentence = " ".join(rng.choice(words) for _ in range(12)).capitalize() + ". "
        parts.append(sentence)
        size += len(sentence)
    (tmp / "docs").mkdir()
    (tmp / "docs" / "big.txt").write_text("".join(parts), encoding="utf-8")
    del parts
    print(f"before the sync: peak RSS {peak_mib()} MiB")
    settings = Settings(_env_file=None, data_dir=tmp / "data", embedder="hashing")  # type: ignore[call-arg]
    store = open_store(settings)
    t0 = time.process_time()
    report = Ingestor(settings, store, HashingEmbedder()).sync([tmp / "docs"])
    cpu = time.process_time() - t0
    print(
        f"chunks {report.chunks_written}, failed {len(report.failed)}, {cpu:.1f} CPU-s, "
        f"peak RSS {peak_mib()} MiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
