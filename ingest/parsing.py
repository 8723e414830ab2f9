"""Parsing with a time cap per file (GQA_PARSE_TIMEOUT_S).

A parse that runs away (a pathological PDF, a docx or HTML file that unstructured or lxml chews
on for minutes) cannot be stopped from a thread, and a signal alarm only works in the main
thread (service jobs sync in a worker thread). So the formats that can be slow are parsed in one
worker process, killed and replaced when a file runs past the limit; text formats, linear and
fast, parse in process and pay nothing. The worker is forked: it inherits the parser modules
already imported, so a sync pays no second import of unstructured.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from multiprocessing.pool import Pool
from types import TracebackType

from ingest import formats

ParseFn = Callable[[bytes, str], formats.Parsed]
# Parsed by unstructured (docx, html) or pypdf: the formats whose parse time a file can blow up.
SLOW = frozenset({".docx", ".pdf", ".html", ".htm"})


class TimedParser:
    """`formats.parse` (or `parse`), with files of the `slow` suffixes parsed in a worker
    process that is killed when one runs past `timeout_s` seconds: that file is then a
    `FormatError` (remembered by hash like any parse failure) and the next file gets a new
    worker. Use as a context manager: the worker ends with the block."""

    def __init__(
        self, timeout_s: float, parse: ParseFn | None = None, slow: frozenset[str] = SLOW
    ) -> None:
        self.timeout_s = timeout_s
        # None: formats.parse as it is at call time; must be picklable by reference
        self.parse = parse
        self.slow = slow
        self._pool: Pool | None = None

    def __call__(self, data: bytes, suffix: str) -> formats.Parsed:
        """Parse one file; raises what `parse` raises, or FormatError past the time limit."""
        parse = self.parse or formats.parse
        if suffix.lower() not in self.slow:
            return parse(data, suffix)
        if self._pool is None:
            self._pool = multiprocessing.get_context("fork").Pool(1)
        pending = self._pool.apply_async(parse, (data, suffix))
        try:
            return pending.get(self.timeout_s)
        except multiprocessing.TimeoutError:
            self.close()  # the worker is still parsing: kill it, the next file gets a new one
            raise formats.FormatError(
                f"parsing took longer than {self.timeout_s:g} s (GQA_PARSE_TIMEOUT_S); "
                "not indexed - simplify or split the file, or raise the limit"
            ) from None

    def close(self) -> None:
        """End the worker process, if one was started."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> TimedParser:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
