"""Chunking time against document size: it must grow linearly (issue 20: it was quadratic,
the whole text was hashed once per chunk).

    OMP_NUM_THREADS=1 python benchmarks/chunking_scale.py --sizes 1 4 16

Chunks one generated document of each size (MB of UTF-8, mixed Chinese/English sentences) with
the ingest chunker and prints seconds, chunks, and seconds per MB (flat when linear). Embedding is
not included: it is per chunk, so linear already.
"""

from __future__ import annotations

import argparse
import random
import time

from llama_index.core.schema import Document

from ingest.chunking import SentenceChunker

SENTENCES = [
    "员工出差的住宿、交通和伙食费用须在出差结束后{n}天内提交报销。",
    "The VPN session times out after {n} minutes of inactivity.",
    "入职满{n}年的员工每年享有带薪年假，未休完的年假最多可结转五天。",
    "Backups are kept for {n} days and restored on request within one working day.",
]


def text_of(mb: float, seed: int = 0) -> str:
    rng = random.Random(seed)
    parts: list[str] = []
    size = 0
    while size < mb * 2**20:
        s = rng.choice(SENTENCES).format(n=rng.randint(1, 999))
        if rng.random() < 0.1:
            s += "\n\n"
        parts.append(s)
        size += len(s.encode())
    return "".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=float, nargs="+", default=[1, 4, 16])
    args = ap.parse_args()
    chunker = SentenceChunker()
    print(f"{'MB':>6} {'seconds':>9} {'chunks':>8} {'s/MB':>7}")
    for mb in args.sizes:
        doc = Document(text=text_of(mb), id_="big", metadata={"title": "big"})
        t0 = time.perf_counter()
        nodes = chunker.get_nodes_from_documents([doc])
        dt = time.perf_counter() - t0
        print(f"{mb:>6g} {dt:>9.2f} {len(nodes):>8} {dt / mb:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
