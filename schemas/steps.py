"""Finished steps of a run, kept in its database, so that a stopped run resumes.

A run's work folder is valid for one fingerprint of its inputs and config (checked before
anything is resumed). Inside it, each step that finishes records its name and a small JSON
result in table ``miglink_steps``; a resumed run skips those steps and takes their results.
A step that was stopped half-way is run again from its start: every step replaces the
tables it owns, so what it left behind does no harm. Steps that append (chunks of scored
pairs) record each chunk in the same transaction as its rows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from schemas import sql as db

log = logging.getLogger("miglink")
T = TypeVar("T")


class Steps:
    """The finished steps of the run on ``con`` (``enabled=False``: remember nothing)."""

    def __init__(self, con: Any, enabled: bool = True):
        self.con, self.enabled = con, enabled
        if enabled:
            db.run_stage(con, "checkpoint", "CREATE TABLE IF NOT EXISTS miglink_steps "
                                            "(step VARCHAR PRIMARY KEY, result VARCHAR)")

    def result(self, step: str) -> Any | None:
        """The saved result of ``step`` if it finished, else None."""
        if not self.enabled:
            return None
        rows = db.rows(self.con, "checkpoint",
                       "SELECT result FROM miglink_steps WHERE step = ?", [step])
        return json.loads(rows[0][0]) if rows else None

    def finished(self, step: str) -> bool:
        return self.result(step) is not None

    def mark(self, step: str, result: Any = True) -> None:
        if self.enabled:
            db.run_stage(self.con, "checkpoint",
                         "INSERT OR REPLACE INTO miglink_steps VALUES (?, ?)",
                         [step, json.dumps(result, default=str)])

    def run(self, step: str, work: Callable[[], T], resumed: Callable[[Any], T] | None = None
            ) -> T:
        """``work()`` unless ``step`` finished before; then its saved result (through
        ``resumed`` if given)."""
        saved = self.result(step)
        if saved is not None:
            log.info("%s: finished before, resumed", step)
            return resumed(saved) if resumed else saved
        value = work()
        self.mark(step, value if value is not None else True)
        return value
