"""Progress of long stages a person can read.

On a terminal a bar (tqdm) with counts and the time left; in a log, or off a terminal, one
line per chunk with the counts, the elapsed time and the process's memory. Lines carry
counts only, never a record's values.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

log = logging.getLogger("miglink")


def peak_memory_mb() -> float:
    """The most resident memory the process has held so far (MiB)."""
    try:
        import resource
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    except ImportError:  # pragma: no cover - not on Windows
        return 0.0


def memory_mb() -> float:
    """The process's resident memory now (MiB), or its peak where now is unknown."""
    try:
        with open("/proc/self/statm") as statm:
            import os
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024 ** 2
    except (OSError, ValueError, IndexError):
        return peak_memory_mb()


def _on_terminal() -> bool:
    return sys.stderr.isatty() and log.isEnabledFor(logging.INFO)


class Progress:
    """``total`` chunks of ``stage``; ``advance()`` after each one."""

    def __init__(self, stage: str, total: int, unit: str = "chunk", done: int = 0):
        self.stage, self.total, self.unit, self.done = stage, total, unit, done
        self._here = 0  # chunks done by this process (a resumed run did the others)
        self.started = time.perf_counter()
        self._bar: Any = None
        if _on_terminal():
            from tqdm import tqdm
            self._bar = tqdm(total=total, initial=done, desc=stage, unit=unit,
                             file=sys.stderr, dynamic_ncols=True, leave=False)

    def advance(self, steps: int = 1, **counts: Any) -> None:
        self.done += steps
        self._here += steps
        shown = ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}"
                          for k, v in counts.items())
        if self._bar is not None:
            self._bar.set_postfix_str(shown, refresh=False)
            self._bar.update(steps)
            return
        elapsed = time.perf_counter() - self.started
        left = elapsed / max(self._here, 1) * (self.total - self.done)
        log.info("%s: %s %d/%d%s (%.0f s, about %.0f s left, %.0f MiB)", self.stage,
                 self.unit, self.done, self.total, f", {shown}" if shown else "", elapsed,
                 left, memory_mb())

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
