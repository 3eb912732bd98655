"""The folder a benchmark works in: the one given, kept; or a temporary one, removed after."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def work_folder(given: Path | None, prefix: str) -> Iterator[Path]:
    """Yield ``given`` untouched, or a new temporary folder deleted on exit.

    Benchmarks at 100,000 persons leave gigabytes of sources and DuckDB files; a shared disk
    fills up if every run keeps them (it did, and CI then failed for want of space).
    """
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        yield given
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        yield Path(folder)
