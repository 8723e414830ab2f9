"""`python -m service`: serve the API (host and port from settings or flags).

With no API keys configured the service is open (every caller reads every document), so it
only binds to loopback; binding elsewhere without keys refuses to start.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys

import uvicorn

from core.errors import GqaError
from core.settings import Settings
from service.app import create_app
from service.auth import KeyRing
from service.config import ServiceSettings
from service.server import server_config

log = logging.getLogger("service")


def is_loopback(host: str) -> bool:
    """Whether `host` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        svc = ServiceSettings()
        keys = KeyRing.from_settings(svc)
        if keys.open and not is_loopback(args.host):
            print(
                f"error: refusing to listen on {args.host} without API keys: every caller would "
                "read every document. Configure keys (GQA_API_KEYS_FILE or GQA_API_KEYS) or "
                "bind to 127.0.0.1.",
                file=sys.stderr,
            )
            return 2
        if keys.open:
            log.warning(
                "no API keys configured: open mode (every request reads every document, admin "
                "API disabled); listening on loopback %s only",
                args.host,
            )
        else:
            log.info("%d API keys configured", len(keys.keys))
        # the address it serves on, as the store lock's note tells `python -m ingest`
        served = settings.model_copy(update={"host": args.host, "port": args.port})
        app = create_app(served, service_settings=svc)
    except GqaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    url = f"http://{args.host}:{args.port}"
    log.info(
        "serving on %s (chat page at %s/) - try:\n  curl -s %s/v1/answer "
        "-H 'Content-Type: application/json' "
        '-d \'{"question": "VPN 连接多久没有操作会自动断开？"}\'',
        url,
        url,
        url,
    )
    uvicorn.Server(server_config(app, args.host, args.port, svc)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
