"""Peak memory of the service process: start `python -m service` (with an admin API key made up
for the run and a fresh data folder), ingest and ask question sets over HTTP with `python -m eval
run --url ... --ingest`, and read the process's peak RSS (`VmHWM`, Linux /proc) after start-up
and after each set. Not a test; run from the repository root:

    python -m benchmarks.service_memory [--concurrency 8] [--dataset samples/acme ...]

The ingest jobs run inside the service, so their embedding counts too. The configured settings
apply (GQA_EMBEDDER, GQA_READER ...); GQA_DATA_DIR is replaced by a temporary folder, and the
encoder cache defaults to this checkout's (.data/encoder) so that nothing is built again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size (VmHWM) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB (KiB) -> MiB
    raise RuntimeError(f"no VmHWM for process {pid}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.service_memory")
    parser.add_argument(
        "--dataset", action="append", type=Path, help="default: samples/acme, samples/crosslang"
    )
    parser.add_argument("--concurrency", type=int, default=1, help="questions in flight")
    args = parser.parse_args(argv)
    datasets = args.dataset or [Path("samples/acme"), Path("samples/crosslang")]
    key = secrets.token_urlsafe(24)
    entry = {"id": "bench", "sha256": hashlib.sha256(key.encode()).hexdigest(), "admin": True}
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "GQA_API_KEYS": json.dumps([{**entry, "groups": ["everyone"]}]),
            "GQA_EVAL_API_KEY": key,
            "GQA_EVAL_ADMIN_KEY": key,
            "GQA_DATA_DIR": str(Path(tmp) / "data"),
            "GQA_ENCODER_CACHE": os.environ.get("GQA_ENCODER_CACHE", str(Path(".data/encoder"))),
            "GQA_RATE_LIMIT_PER_MINUTE": "0",
            "DO_NOT_TRACK": "1",
        }
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = (Path(tmp) / "service.log").open("w")
        service = subprocess.Popen(
            [sys.executable, "-m", "service", "--port", str(port)], env=env, stdout=log, stderr=log
        )
        try:
            for _ in range(300):
                try:
                    httpx.get(f"{url}/healthz", timeout=2)  # any reply: it is serving
                    break
                except httpx.TransportError:
                    time.sleep(1)
            else:
                raise SystemExit(f"the service did not start; see {log.name}")
            rows = [("started", peak_rss_mb(service.pid))]
            for dataset in datasets:
                run = [sys.executable, "-m", "eval", "run", "--dataset", str(dataset)]
                run += ["--url", url, "--ingest", "--concurrency", str(args.concurrency)]
                run += ["--out", str(Path(tmp) / "runs" / dataset.name)]
                done = subprocess.run(run, env=env, capture_output=True, text=True)
                if done.returncode != 0:
                    raise SystemExit(f"eval run on {dataset} failed:\n{done.stderr[-2000:]}")
                rows.append((f"after {dataset} (ingest + questions)", peak_rss_mb(service.pid)))
        finally:
            service.terminate()
            service.wait(timeout=30)
    print(f"| service peak RSS, {args.concurrency} question(s) in flight | MiB |\n|---|---|")
    for name, mb in rows:
        print(f"| {name} | {mb:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
