"""Write throughput and hybrid-query latency of the two Store engines on synthetic chunks.

Builds N chunks of generated Chinese/English text (BM25 sparse vectors from `Bm25Encoder`,
384-dim normalised random dense vectors, ACL groups), writes them through `Store.write_document`
into QdrantStore (qdrant-client local mode) and EdgeStore (Qdrant Edge), each in its own tmp
folder, then times hybrid queries (two prefetches, RRF, ACL filter) on each and prints a
Markdown table. Not a test; run from the repository root:

    python -m benchmarks.store_latency --n 10000
    python -m benchmarks.store_latency --n 50000

Queries are a stored chunk's vector plus noise and three of its words, asked with groups that
can see it, so "top-1" (the source chunk ranks first) and "overlap@5" (shared top-5 chunks with
the qdrant-client run) show that a faster engine still returns the same passages.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from qdrant_client import QdrantClient

from core.edge_store import EdgeStore
from core.records import Chunk, SourceDocument
from core.sparse import Bm25Encoder, SparseTerms
from core.store import DocumentWrite, QdrantStore, Store

DIM = 384
GROUPS = ["hr", "finance", "eng", "sales", "legal"]


def vocab(text: str) -> list[str]:
    return text.split()


ZH = vocab(
    "报销 差旅 费用 审批 合同 采购 供应商 预算 发票 付款 员工 入职 离职 假期 "
    "年假 病假 加班 工资 绩效 考核 培训 安全 信息 系统 账号 密码 权限 网络 "
    "服务器 数据 备份 客户 订单 发货 退货 退款 质量 产品 型号 设备 维修 保修 "
    "仓库 库存 物流 运输 会议 出差 酒店 机票 标准 流程 制度 规定 部门 经理 "
    "总监 财务 法务 人事 行政 销售 市场 研发 测试 上线 发布 版本 故障 事故 "
    "报告 季度 年度 目标 计划 项目 风险 合规 审计 隐私 保密 协议 签署 盖章 "
    "归档 邮件 电话 地址 北京 上海 深圳 成都 杭州 办公室 门禁 停车 食堂 班车 "
    "体检 保险 公积金 社保 补贴 津贴 奖金 期权"
)
EN = vocab(
    "refund policy travel expense approval contract purchase vendor budget invoice "
    "payment employee onboarding leave vacation overtime salary review training "
    "security account password access network server backup customer order shipping "
    "return quality product model device repair warranty warehouse inventory "
    "logistics meeting hotel flight standard process rule department manager "
    "director finance legal sales marketing release incident report quarter annual "
    "target project risk compliance audit privacy agreement signature archive email "
    "office badge parking canteen shuttle insurance bonus stock option within days "
    "must submit system portal receipt limit per night city team request form "
    "deadline"
)


@dataclass
class Corpus:
    docs: list[tuple[SourceDocument, list[Chunk]]]
    dense: np.ndarray  # one row per chunk, in document order
    sparse: list[SparseTerms]
    words: list[list[str]]  # the words each chunk was made of (queries pick from them)


@dataclass
class Result:
    engine: str
    latencies_ms: list[float]
    top1: float
    overlap5: float | None
    write_s: float | None = None
    finalize_s: float | None = None
    reopen_s: float | None = None


Queries = list[tuple[int, np.ndarray, SparseTerms, list[str]]]


def zipf_words(rng: np.random.Generator, vocab: list[str], n: int) -> list[str]:
    p = 1.0 / np.arange(1, len(vocab) + 1)
    return [vocab[i] for i in rng.choice(len(vocab), size=n, p=p / p.sum())]


def chunk_text(rng: np.random.Generator) -> tuple[str, list[str]]:
    """~150 characters of Chinese or ~40 English words, with a number and a model code."""
    extra = [f"{rng.integers(1, 400)}", f"X{rng.integers(1, 30)}"]
    if rng.random() < 0.6:
        ws = zipf_words(rng, ZH, int(rng.integers(45, 75))) + extra
        return "，".join("".join(ws[i : i + 6]) for i in range(0, len(ws), 6)) + "。", ws
    ws = zipf_words(rng, EN, int(rng.integers(30, 50))) + extra
    return " ".join(ws).capitalize() + ".", ws


def build_corpus(n: int, per_doc: int, seed: int) -> Corpus:
    rng = np.random.default_rng(seed)
    enc = Bm25Encoder()
    docs, sparse, words = [], [], []
    for d in range(0, n, per_doc):
        doc_id = f"corpus/doc-{d // per_doc:06d}.md"
        acl = ("everyone",) if rng.random() < 0.6 else tuple(rng.choice(GROUPS, 1 + (d % 2)))
        chunks, pos = [], 0
        for i in range(min(per_doc, n - d)):
            text, ws = chunk_text(rng)
            chunks.append(Chunk(doc_id, i, text, pos, pos + len(text), doc_id, doc_id, acl))
            sparse.append(enc.encode_passage(text))
            words.append(ws)
            pos += len(text)
        body = "".join(c.text for c in chunks)
        doc = SourceDocument(doc_id, doc_id, doc_id, body, acl, chunk_count=len(chunks))
        docs.append((doc, chunks))
    dense = rng.normal(size=(n, DIM)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    return Corpus(docs, dense, sparse, words)


def make_queries(
    corpus: Corpus, count: int, seed: int
) -> list[tuple[int, np.ndarray, SparseTerms, list[str]]]:
    """(source chunk index, dense, sparse, groups) per query."""
    rng = np.random.default_rng(seed + 1)
    enc = Bm25Encoder()
    acl = [c.acl for _, chunks in corpus.docs for c in chunks]
    out = []
    for i in rng.choice(len(corpus.words), size=count, replace=False):
        vec = corpus.dense[i] + rng.normal(size=DIM).astype(np.float32) * 0.8 / np.sqrt(DIM)
        text = " ".join(rng.choice(corpus.words[i], 3, replace=False))
        groups = sorted({"everyone", *acl[i], str(rng.choice(GROUPS))})
        out.append((int(i), vec / np.linalg.norm(vec), enc.encode_query(text), groups))
    return out


def write_all(store: Store, corpus: Corpus, batch_docs: int) -> float:
    """Write every document as a first sync does (batches of documents, none replacing an
    indexed version); return the seconds `write_documents` took."""
    store.ensure_schema("bench-random-384", DIM)
    store.mark_sync(True)
    writes, row = [], 0
    for doc, chunks in corpus.docs:
        k = len(chunks)
        dense, sparse = corpus.dense[row : row + k], tuple(corpus.sparse[row : row + k])
        writes.append(DocumentWrite(doc, tuple(chunks), dense, sparse, replaces=False))
        row += k
    start = time.perf_counter()
    for i in range(0, len(writes), batch_docs):
        store.write_documents(writes[i : i + batch_docs])
    return time.perf_counter() - start


def run_queries(
    store: Store, queries: list[tuple[int, np.ndarray, SparseTerms, list[str]]], pool: int
) -> tuple[list[float], list[list[str]]]:
    latencies, ids = [], []
    for _, dense, sparse, groups in queries:
        start = time.perf_counter()
        hits = store.search(dense, sparse, limit=5, pool=pool, groups=groups)
        latencies.append((time.perf_counter() - start) * 1000)
        ids.append([h.chunk.chunk_id for h in hits])
    return latencies, ids


def measure(
    engine: str,
    store: Store,
    corpus: Corpus,
    queries: Queries,
    args: argparse.Namespace,
    reference: list[list[str]] | None,
) -> tuple[Result, list[list[str]]]:
    """Query latency, top-1 = source chunk, and top-5 overlap with the reference run."""
    run_queries(store, queries[:10], args.pool)  # warm caches
    latencies, ids = run_queries(store, queries, args.pool)
    chunk_ids = [c.chunk_id for _, chunks in corpus.docs for c in chunks]
    top1 = sum(bool(r) and r[0] == chunk_ids[q[0]] for q, r in zip(queries, ids, strict=True))
    overlap = None
    if reference is not None:
        pairs = zip(ids[: len(reference)], reference, strict=True)  # the queries both ran
        shared = [len(set(a) & set(b)) / 5 for a, b in pairs]
        overlap = statistics.fmean(shared)
    return Result(engine, latencies, top1 / len(queries), overlap), ids


def bench(
    engine: str,
    opener: Callable[[], Store],
    corpus: Corpus,
    queries: Queries,
    args: argparse.Namespace,
    reference: list[list[str]] | None,
) -> tuple[list[Result], list[list[str]]]:
    """Write, (for Edge) query before the end-of-sync optimize, finish the sync, reopen, query."""
    results = []
    store = opener()
    write_s = write_all(store, corpus, args.batch_docs)
    if isinstance(store, EdgeStore):  # no background optimizer: unindexed until mark_sync
        before, _ = measure(f"{engine}, before optimize", store, corpus, queries, args, reference)
        results.append(before)
    start = time.perf_counter()
    store.mark_sync(False)
    finalize_s = time.perf_counter() - start
    store.close()
    start = time.perf_counter()
    store = opener()
    reopen_s = time.perf_counter() - start
    try:
        after, ids = measure(engine, store, corpus, queries, args, reference)
    finally:
        store.close()
    after.write_s, after.finalize_s, after.reopen_s = write_s, finalize_s, reopen_s
    return [after, *results], ids


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(np.ceil(q * len(ordered))) - 1)]


def table(n: int, results: list[Result]) -> str:
    def num(v: float | None, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    head = (
        "| engine | chunks | write s | points/s | finalize s | reopen s | p50 ms | p95 ms "
        "| mean ms | top-1 | overlap@5 vs qdrant-client |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|"
    )
    rows = [
        f"| {r.engine} | {n:,} | {num(r.write_s, '.1f')} "
        f"| {num(n / r.write_s if r.write_s else None, ',.0f')} | {num(r.finalize_s, '.1f')} "
        f"| {num(r.reopen_s, '.2f')} | {nearest_rank(r.latencies_ms, 0.5):.1f} "
        f"| {nearest_rank(r.latencies_ms, 0.95):.1f} | {statistics.fmean(r.latencies_ms):.1f} "
        f"| {r.top1:.2f} | {num(r.overlap5, '.2f')} |"
        for r in results
    ]
    return "\n".join([head, *rows])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="chunks to write")
    parser.add_argument("--per-doc", type=int, default=10, help="chunks per document")
    parser.add_argument("--batch-docs", type=int, default=64, help="documents per write call")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--qdrant-queries",
        type=int,
        default=None,
        help="ask qdrant-client only the first K queries (its exact search in Python is slow)",
    )
    parser.add_argument("--pool", type=int, default=40, help="candidates per prefetch")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=None, help="parent of the tmp store folders")
    parser.add_argument("--skip-qdrant", action="store_true", help="time EdgeStore only")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    corpus = build_corpus(args.n, args.per_doc, args.seed)
    queries = make_queries(corpus, args.queries, args.seed)
    took = time.perf_counter() - start
    print(f"corpus: {args.n:,} chunks, {len(corpus.docs):,} documents, built in {took:.1f} s")
    results: list[Result] = []
    reference = None
    with tempfile.TemporaryDirectory(prefix="store-bench-", dir=args.dir) as tmp:
        root = Path(tmp)
        if not args.skip_qdrant:
            rows, reference = bench(
                "qdrant-client local",
                lambda: QdrantStore(QdrantClient(path=str(root / "q")), "docs"),
                corpus,
                queries[: args.qdrant_queries],
                args,
                None,
            )
            results += rows
            print(table(args.n, results), flush=True)
        rows, _ = bench(
            "qdrant-edge",
            lambda: EdgeStore.open(root / "e", "docs"),
            corpus,
            queries,
            args,
            reference,
        )
        results += rows
    print()
    print(table(args.n, results))


if __name__ == "__main__":
    main()
