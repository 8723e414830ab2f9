"""Share of sentences in the shared corpora overlapping a planted mark (false positives), and
of those withheld from evidence for either reason (a mark, or citation-marker look-alikes)."""

import json
import sys
from pathlib import Path

from core.records import Chunk
from core.sentences import sentence_spans
from engine.evidence import never_evidence
from ingest.injection import find_planted


def texts(root: Path):
    for f in sorted(root.rglob("*")):
        if not f.is_file() or f.suffix.lower() in (".pdf", ".docx", ".gz", ".zip", ".parquet"):
            continue
        raw = f.read_text(encoding="utf-8", errors="replace")
        if f.suffix == ".jsonl":
            for line in raw.splitlines():
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                for v in r.values() if isinstance(r, dict) else []:
                    if isinstance(v, str) and len(v) > 40:
                        yield f, v
        else:
            yield f, raw


for root in sys.argv[1:]:
    n = m = w = 0
    hits = []
    for f, t in texts(Path(root)):
        spans = find_planted(t)
        chunk = Chunk(str(f), 0, t, 0, len(t), str(f), "", (), planted=spans)
        for s, e in sentence_spans(t):
            n += 1
            w += never_evidence(chunk, s, e)
            if any(a < e and s < b for a, b in spans):
                m += 1
                hits.append((f.name, t[s:e][:100]))
    print(
        f"{root}: {m}/{n} sentences marked = {100 * m / max(n, 1):.3f}%; "
        f"withheld from evidence (marked or marker-like) {w} = {100 * w / max(n, 1):.3f}%"
    )
    for h in hits[:8]:
        print("   ", h)
