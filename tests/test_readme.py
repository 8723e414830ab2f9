"""The /v1/answer examples of README.md's "A short tour" are checked: each example request runs
against the bundled corpus (real default embedder) and the parts that must not drift (refusal vs
answer, reason code, cited document ids, field names) must match what the README prints."""

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

from core.embedders import make_embedder
from core.settings import Settings
from core.store import QdrantStore
from ingest.pipeline import Ingestor
from service.app import create_app

ROOT = Path(__file__).resolve().parents[1]


def readme_examples() -> list[tuple[str, str]]:
    """(request body, printed output) for each `$ curl .../v1/answer` in "A short tour"."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    tour = text[text.index("## A short tour") :]
    tour = tour[: tour.index("\n## ", 3)]
    examples = []
    for block in re.findall(r"```console\n(.*?)```", tour, re.S):
        for cmd in re.split(r"^\$ ", block, flags=re.M)[1:]:
            if "/v1/answer" not in cmd:
                continue
            body = re.search(r"-d '(.*?)'", cmd, re.S)
            assert body, cmd
            output = cmd[body.end() :].split("\n", 1)[1]
            examples.append((body.group(1), output))
    return examples


def test_the_readme_examples_are_parsed() -> None:
    examples = readme_examples()
    assert len(examples) >= 2
    assert all('"refused":' in out and '"doc_id"' in out for _, out in examples[:1])


# In the default run (like tests/service/test_bundled_eval_set.py): the README is what a new
# user reads first, so its examples are checked on every CI run.
def test_readme_answer_examples_match_the_service(tmp_path: Path) -> None:
    examples = readme_examples()
    settings = Settings(_env_file=None, data_dir=tmp_path)
    store = QdrantStore.from_settings(settings)
    embedder = make_embedder(settings)
    report = Ingestor(settings, store, embedder).sync([ROOT / "samples" / "acme" / "corpus"])
    assert report.failed == []
    with TestClient(create_app(settings, store=store, embedder=embedder)) as client:
        for body, printed in examples:
            got = client.post("/v1/answer", json=json.loads(body)).json()
            refused = re.search(r'"refused":(true|false)', printed)
            assert refused and got["refused"] == (refused.group(1) == "true"), (body, got)
            reason = re.search(r'"reason":(null|"(\w+)")', printed)
            assert reason and got["reason"] == reason.group(2), (body, got)
            cited_part, _, related_part = printed.partition('"related"')
            cited = re.findall(r'"doc_id":"([^"]+)"', cited_part)
            assert [c["doc_id"] for c in got["citations"]] == cited, (body, got)
            related = re.findall(r'"doc_id":"([^"]+)"', related_part)
            assert set(related) <= {r["doc_id"] for r in got["related"]}, (body, got)
            top = set(re.findall(r'(?:^|[{,]\s*)"(\w+)":', printed, re.M))
            fields = set(got)
            for item in got["citations"] + got["related"]:
                fields |= set(item)
            assert top <= fields, (body, top - fields)
    store.close()
