"""Ingest of a hostile folder (issue 20's fuzz corpus): wall time, CPU-seconds and peak RSS.

    OMP_NUM_THREADS=1 GQA_EMBEDDER=hashing python benchmarks/hostile_folder.py --big-mb 16 --bomb-mib 2048

Builds, next to good files: symlinks out of the folder and within it, a file name that is not
UTF-8, a docx zip bomb (small on disk, `--bomb-mib` MiB of XML inside), a `--big-mb` MB text,
a JSONL record whose id clashes with a file's, a UTF-8 text with a bad byte and random bytes
named .txt; then runs `python -m ingest` on it in a subprocess (a fresh store) and prints the
subprocess's wall time, CPU-seconds (user+sys) and peak RSS (VmHWM of it and its workers), and each
failure with its reason. `tests/ingest/test_hostile_folder.py` builds the same folder smaller.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from benchmarks.chunking_scale import text_of

SECRET = "SECRET-OUTSIDE-THE-ROOT-7731"
GOOD = {
    "good/leave.md": "# Leave\n\nEmployees get 25 days of paid leave a year.\n",
    "good/vpn.txt": "The VPN session times out after 30 minutes of inactivity.\n",
    "good/zh.txt": "员工每年享有十五天带薪年假，未使用的假期可以结转到下一年度。\n",
}
# id -> reason fragment of each bad file's failure
BAD = {
    "link_out.txt": "outside the synced folder",
    "bad\\xff.txt": "not valid UTF-8",
    "bomb.docx": "",  # the decompressed-size cap
    "records.jsonl": "",  # the line whose id clashes
    "corrupt.txt": "not valid UTF-8",
    "random.txt": "binary",
}


def build(root: Path, outside: Path, big_mb: float, bomb_mib: int) -> Path:
    """The hostile folder `root/hostile` (and a secret file in `outside`); returns the folder."""
    folder = root / "hostile"
    for rel, text in GOOD.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, encoding="utf-8")
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "secret.txt").write_text(f"The root password is {SECRET}.\n")
    os.symlink(outside / "secret.txt", folder / "link_out.txt")
    os.symlink(folder / "good" / "vpn.txt", folder / "link_in.txt")  # inside: read
    (folder / os.fsdecode(b"bad\xff.txt")).write_text("a name that is not UTF-8\n")
    _zip_bomb(folder / "bomb.docx", bomb_mib)
    (folder / "big.txt").write_text(text_of(big_mb), encoding="utf-8")
    clash = {"id": "hostile/good/leave.md", "text": "Leave is 0 days."}
    ok = {"id": "kb-1", "text": "The cafeteria opens at 11:30."}
    (folder / "records.jsonl").write_text(json.dumps(ok) + "\n" + json.dumps(clash) + "\n")
    good = "Backups are kept for 35 days. " * 10
    (folder / "corrupt.txt").write_bytes(good.encode()[:100] + b"\xff" + "é".encode() * 40)
    (folder / "random.txt").write_bytes(random.Random(20).randbytes(4096))
    return folder


def _zip_bomb(path: Path, unzipped_mib: int) -> None:
    """A docx whose word/document.xml inflates to `unzipped_mib` MiB (about 1/1000 on disk)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("word/document.xml", "w", force_zip64=True) as member:
            member.write(b'<w:document xmlns:w="urn:w"><w:body><w:p><w:r><w:t>')
            block = b" " * 2**20
            for _ in range(unzipped_mib):
                member.write(block)
            member.write(b"</w:t></w:r></w:p></w:body></w:document>")


POLL_S = 0.02  # how often the process tree's memory high-water marks are read


def _tree(pid: int) -> list[int]:
    """pid and its descendants (/proc/PID/task/PID/children; just pid where the kernel lacks it)."""
    out = [pid]
    for p in out:
        try:
            out += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except (OSError, ValueError):
            continue
    return out


def _vm_hwm_kib(pid: int) -> int:
    """The process's peak resident set (VmHWM, KiB); 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def run_ingest(folder: Path, data_dir: Path) -> dict[str, object]:
    """`python -m ingest folder` in a subprocess: exit code, summary, wall, CPU-s, peak RSS.

    CPU time: the child's and its parse workers', from `os.wait4` on its pid. Peak RSS: the
    largest VmHWM among the child and its workers, read every POLL_S while they run (a bomb
    inflating in memory takes far longer than that). Not ru_maxrss: Linux carries the RSS of
    the process that started a child into the child's ru_maxrss across the exec, so under pytest
    every subprocess reported at least pytest's own peak, and `getrusage(RUSAGE_CHILDREN)` also
    the largest earlier child."""
    summary = data_dir / "summary.json"
    env = {**os.environ, "GQA_DATA_DIR": str(data_dir), "PYTHONPATH": os.getcwd()}
    env.setdefault("GQA_EMBEDDER", "hashing")
    data_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    peak: dict[int, int] = {}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ingest",
                str(folder),
                "--no-progress",
                "--summary-json",
                str(summary),
            ],
            env=env,
            stdout=out,
            stderr=err,
            text=True,
        )
        while True:
            for pid in _tree(proc.pid):
                peak[pid] = max(peak.get(pid, 0), _vm_hwm_kib(pid))
            done, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if done:
                break
            time.sleep(POLL_S)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        wall = time.perf_counter() - t0
        err.seek(0)
        stderr = err.read()
    return {
        "exit_code": proc.returncode,
        "stderr": stderr[-2000:],
        "summary": json.loads(summary.read_text()) if summary.exists() else None,
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mib": round(max(peak.values(), default=0) / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--big-mb", type=float, default=16)
    parser.add_argument("--bomb-mib", type=int, default=2048)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = build(Path(tmp), Path(tmp) / "outside", args.big_mb, args.bomb_mib)
        bomb = (folder / "bomb.docx").stat().st_size
        print(f"zip bomb: {bomb / 2**20:.1f} MiB on disk, {args.bomb_mib} MiB of XML")
        result = run_ingest(folder, Path(tmp) / "data")
    summary = result.pop("summary")
    print(json.dumps({k: v for k, v in result.items() if k != "stderr"}))
    if isinstance(summary, dict):
        for f in summary["failed"]:
            print(f"failed: {f['file']}: {f['reason'][:110]}")
        print({k: summary[k] for k in ("new", "changed", "unchanged", "removed") if k in summary})


if __name__ == "__main__":
    main()
