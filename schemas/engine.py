"""The database engine a run uses, with its resources bounded and checked.

``[engine]`` in the config sets DuckDB's ``memory_limit``, ``threads``, ``temp_directory`` and
``max_temp_directory_size``. What is not set is derived from the machine: a share of its
memory (the cgroup's limit where one applies), every core it may use, a spill folder inside
the run's work folder, and a share of the disk free there. The resolved values are logged and
saved with the run.

Before the expensive stages a run checks the disk: when the work will not fit it stops with
the numbers and a remedy (exit 1) instead of filling the disk. DuckDB's own out-of-memory and
out-of-disk errors are turned into the same kind of message.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.errors import ConfigError, ResourceError
from schemas.sql import literal, run_stage

log = logging.getLogger("miglink")

GIB = 1024 ** 3
BACKENDS = ("duckdb", "spark")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)?\s*$", re.I)
_UNITS = {"B": 1, "KB": 1000, "MB": 1000 ** 2, "GB": 1000 ** 3, "TB": 1000 ** 4,
          "KIB": 1024, "MIB": 1024 ** 2, "GIB": GIB, "TIB": 1024 ** 4}


def parse_size(name: str, value: Any) -> int:
    """A size such as ``"12GB"``, ``"500 MiB"`` or a number of bytes, as bytes."""
    if isinstance(value, bool):
        raise ConfigError(f"{name}={value!r} is not a size (say \"12GB\")")
    if isinstance(value, int | float):
        size = float(value)
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ConfigError(f"{name}={value!r} is not a size (say \"12GB\" or \"500MiB\")")
        size = float(match.group(1)) * _UNITS[(match.group(2) or "B").upper()]
    if size <= 0:
        raise ConfigError(f"{name}={value!r}: a size must be positive")
    return int(size)


def shown_size(size: float) -> str:
    return f"{size / GIB:.1f} GiB"


@dataclass(frozen=True)
class EngineSettings:
    """``[engine]``: where and with what the database works."""

    memory_limit: str | None = None  # default: memory_share of the machine's memory
    memory_share: float = 0.4  # the rest is for the presence model's arrays and the system
    threads: int | None = None  # default: every core this process may use
    temp_directory: str | None = None  # default: a spill folder inside the run's work folder
    max_temp_directory_size: str | None = None  # default: disk_share of the disk free there
    disk_share: float = 0.8
    # a run needs about this many times its input files' size on disk (database and spill)
    disk_per_input_byte: float = 12.0
    # where the blocked pairs are scored: "duckdb" (this machine) or "spark" (Splink's Spark
    # backend: local cores, or a cluster by spark_master); everything else runs on DuckDB
    backend: str = "duckdb"
    spark_master: str = "local[*]"
    spark_memory_share: float = 0.35  # the local driver's heap, as a share of the machine's
    spark_conf: dict[str, str] = field(default_factory=dict)  # passed to the session as set

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"[engine] backend={self.backend!r}: need one of "
                              f"{', '.join(BACKENDS)}")
        if not isinstance(self.spark_master, str) or not self.spark_master:
            raise ConfigError(f"[engine] spark_master={self.spark_master!r}: need a master "
                              "URL such as \"local[*]\" or \"spark://host:7077\"")
        if not isinstance(self.spark_conf, dict) or not all(
                isinstance(k, str) and isinstance(v, str | int | float | bool)
                for k, v in self.spark_conf.items()):
            raise ConfigError("[engine] spark_conf must be a table of Spark settings, such "
                              "as { \"spark.executor.memory\" = \"8g\" }")
        if self.memory_limit is not None:
            parse_size("[engine] memory_limit", self.memory_limit)
        if self.max_temp_directory_size is not None:
            parse_size("[engine] max_temp_directory_size", self.max_temp_directory_size)
        for key in ("memory_share", "disk_share", "spark_memory_share"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not 0 < value <= 1:
                raise ConfigError(f"[engine] {key}={value!r}: need a share in (0, 1]")
        if self.threads is not None and (isinstance(self.threads, bool)
                                         or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise ConfigError(f"[engine] threads={self.threads!r}: need a whole number >= 1")
        if isinstance(self.disk_per_input_byte, bool) or not isinstance(
                self.disk_per_input_byte, int | float) or self.disk_per_input_byte <= 0:
            raise ConfigError(f"[engine] disk_per_input_byte={self.disk_per_input_byte!r}: "
                              "need a positive number")


@dataclass(frozen=True)
class Resources:
    """The engine's resolved resources, as applied to the connection."""

    memory_limit: int
    machine_memory: int
    threads: int
    temp_directory: Path
    max_temp_directory_size: int
    disk_free: int

    def to_json(self) -> dict[str, Any]:
        return {"memory_limit_bytes": self.memory_limit, "machine_memory_bytes":
                self.machine_memory, "threads": self.threads,
                "temp_directory": str(self.temp_directory),
                "max_temp_directory_size_bytes": self.max_temp_directory_size,
                "disk_free_bytes": self.disk_free}


def machine_memory() -> int:
    """Bytes of memory this process may use: the cgroup's limit if lower than the RAM."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max",
                       "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def free_disk(folder: Path) -> int:
    """Free bytes on the disk holding ``folder`` (or its nearest existing parent)."""
    folder = folder.resolve()
    while not folder.exists():
        folder = folder.parent
    return shutil.disk_usage(folder).free


def resolve(settings: EngineSettings, work: Path) -> Resources:
    """The resources a run in ``work`` gets, from the config or else from the machine."""
    memory = machine_memory()
    limit = parse_size("memory_limit", settings.memory_limit) if settings.memory_limit \
        else int(memory * settings.memory_share)
    # a folder of this run's own, removed when the run ends (never the user's folder itself)
    temp = Path(settings.temp_directory) / f"miglink-spill-{os.getpid()}" \
        if settings.temp_directory else work / ".spill"
    free = free_disk(temp)
    temp_cap = parse_size("max_temp_directory_size", settings.max_temp_directory_size) \
        if settings.max_temp_directory_size else int(free * settings.disk_share)
    return Resources(memory_limit=limit, machine_memory=memory,
                     threads=settings.threads or usable_cores(), temp_directory=temp,
                     max_temp_directory_size=temp_cap, disk_free=free)


STAGE_LOG_LIMIT = "1TB"  # DuckDB checkpoints on its own only past this much write-ahead log


def apply(con: Any, resources: Resources) -> None:
    """Bound a DuckDB connection to ``resources`` and log what it got."""
    resources.temp_directory.mkdir(parents=True, exist_ok=True)
    run_stage(con, "engine",
              f"SET memory_limit = '{resources.memory_limit // 1024 ** 2}MiB'")
    run_stage(con, "engine", f"SET threads = {int(resources.threads)}")
    run_stage(con, "engine",
              f"SET temp_directory = {literal(str(resources.temp_directory))}")
    run_stage(con, "engine",
              f"SET max_temp_directory_size = "
                f"'{resources.max_temp_directory_size // 1024 ** 2}MiB'")
    # the run checkpoints after every stage (what a resumed run starts from); DuckDB's own
    # checkpoints every 16 MiB of log wrote each intermediate table to the database file
    # again and again within a stage (bench/RESULTS.md, scale)
    run_stage(con, "engine", f"SET checkpoint_threshold = '{STAGE_LOG_LIMIT}'")
    log.info("engine: duckdb, memory limit %s of %s, %d threads, spill up to %s (%s free)",
             shown_size(resources.memory_limit), shown_size(resources.machine_memory),
             resources.threads, shown_size(resources.max_temp_directory_size),
             shown_size(resources.disk_free))


def check_disk(stage: str, folder: Path, needed: int) -> None:
    """Stop before ``stage`` when ``folder``'s disk has less than ``needed`` bytes free."""
    free = free_disk(folder)
    if free < needed:
        raise ResourceError(
            f"not enough disk for stage {stage!r}: it needs about {shown_size(needed)} at "
            f"{folder}, and {shown_size(free)} is free. Free some space, or write the "
            "output (and [engine] temp_directory) to a larger disk.")
    log.debug("disk before %s: %s free, %s needed", stage, shown_size(free),
              shown_size(needed))
