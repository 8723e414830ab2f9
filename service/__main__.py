"""`python -m service`: serve the API (host and port from settings or flags)."""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from core.errors import GqaError
from core.settings import Settings
from service.app import create_app

log = logging.getLogger("service")


def main(argv: list[str] | None = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    url = f"http://{args.host}:{args.port}"
    log.info(
        "serving on %s - try:\n  curl -s %s/v1/answer -H 'Content-Type: application/json' "
        '-d \'{"question": "VPN 连接多久没有操作会自动断开？"}\'',
        url,
        url,
    )
    try:
        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
    except GqaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
