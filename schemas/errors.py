"""One exception hierarchy for miglink, mapped to exit codes in one place (`exit_code`)."""

from __future__ import annotations

from dataclasses import dataclass


class MiglinkError(Exception):
    """Anything miglink reports to its user as a failure (exit status 1)."""

    exit_status = 1


@dataclass(frozen=True)
class Violation:
    """One problem found in an input file: where it is and what is wrong."""

    file: str
    column: str | None
    row: int | None
    value: str | None
    problem: str

    def __str__(self) -> str:
        where = self.file
        if self.column is not None:
            where += f", column {self.column!r}"
        if self.row is not None:
            where += f", row {self.row}"
        shown = "" if self.value is None else f" (value {self.value!r})"
        return f"{where}: {self.problem}{shown}"


class SchemaError(MiglinkError):
    """Bad input: every violation found, reported at once (exit status 2)."""

    exit_status = 2

    def __init__(self, violations: list[Violation]):
        self.violations = list(violations)
        lines = [str(v) for v in self.violations[:200]]
        more = len(self.violations) - len(lines)
        if more > 0:
            lines.append(f"... and {more} more violations")
        super().__init__(
            f"{len(self.violations)} problem(s) in the input:\n  " + "\n  ".join(lines)
        )


class ConfigError(MiglinkError):
    """A bad configuration file, flag or key (exit status 2: it is bad input too)."""

    exit_status = 2


class StageError(MiglinkError):
    """A pipeline stage failed inside the database; carries the stage name."""

    def __init__(self, stage: str, cause: BaseException):
        self.stage = stage
        super().__init__(f"stage {stage!r} failed: {type(cause).__name__}: {cause}")


class ResourceError(MiglinkError):
    """The run does not fit the memory or disk it may use (exit status 1)."""


class EngineError(MiglinkError):
    """The chosen engine cannot start or run here: a missing package, runtime or class
    (exit status 1)."""


_OUT_OF_MEMORY = ("out of memory", "could not allocate", "failed to allocate")
_OUT_OF_DISK = ("no space left", "max_temp_directory_size", "disk is full",
                "maximum temporary directory size")


def resource_error(stage: str, error: BaseException) -> ResourceError | None:
    """A backend error that means memory or disk ran out, as a message with a remedy."""
    text = str(error).lower()
    if any(s in text for s in _OUT_OF_DISK):
        return ResourceError(
            f"stage {stage!r} ran out of disk for the database's spill. Set [engine] "
            "temp_directory to a larger disk or raise max_temp_directory_size; with more "
            "memory_limit less is spilled.")
    if any(s in text for s in _OUT_OF_MEMORY):
        return ResourceError(
            f"stage {stage!r} ran out of memory. Raise [engine] memory_limit if the machine "
            "has more, or lower [engine] threads (each thread holds its own buffers).")
    return None


def exit_code(error: BaseException) -> int:
    """The process exit status for an error: 2 bad input, 1 anything else."""
    return getattr(error, "exit_status", 1)
