"""Generative mode against the worst careful-looking LLM: one that restates, word for word and
cited, every sentence of every passage it is shown.

Every such sentence passes the clause checks (it is a verbatim quote), so what reaches the
employee is bounded only by what the engine lets the LLM see and cite. This script serves that
LLM on loopback (an OpenAI-compatible /chat/completions, written by hand: no library serves a
scripted LLM) and runs `python -m eval run` against it with the arguments given, so the eval's
sentence precision and over-quote rate show how much of a careless reply survives:

    python benchmarks/restating_llm.py --dataset samples/acme --out runs/restating

With a reader loaded the LLM sees only passages holding a window the reader judged as answering
and every kept sentence must cite a span inside one (engine/pipeline.py); with `GQA_READER=off`
it sees every retrieved passage.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from core.sentences import sentence_spans

_BLOCK = re.compile(r'<passage n="(\d+)"[^>]*>\n(.*?)\n</passage>', re.S)


def restate(prompt: str) -> str:
    """Every sentence of every passage block in the prompt, each cited to its passage."""
    out = []
    for n, text in _BLOCK.findall(prompt):
        out += [f"{text[a:b].strip()} [{n}]" for a, b in sentence_spans(text) if text[a:b].strip()]
    return " ".join(out) or "NO_ANSWER"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        reply = restate(body["messages"][-1]["content"])
        data = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data.encode())))
        self.end_headers()
        self.wfile.write(data.encode())

    def log_message(self, *args: object) -> None:
        pass


def main(argv: list[str]) -> int:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ, GQA_LLM_BASE_URL=f"http://127.0.0.1:{server.server_address[1]}/v1")
    try:
        return subprocess.call([sys.executable, "-m", "eval", "run", *argv], env=env)
    finally:
        server.shutdown()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
