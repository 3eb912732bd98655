"""Run configuration: users write TOML, code runs on frozen, validated dataclasses.

Every parameter has a documented default; the resolved configuration is saved beside the
outputs (``run_config.json``).

```toml
country = "KAZ"            # else --country, else DIR/country.txt
as_of = "2025-06-30"       # else the latest date any source observed something
window_start = "2017-01-01"  # else the first 1 January after signs of life start (+ unknown_carry)
rules = ["continuous_12", "12_of_16"]

[rule_parameters]          # METHOD.md §3
tm = 365
tw = 487
gap_max = 90
instant_return = false     # migrbc: no migration within 2 * (tw - tm) days of the last one

[presence]                 # how the presence model is fitted (its rates come from the data)
em_iterations = 10
samples = 20               # paths drawn per person in doubt: event probabilities, intervals

[linkage]
threshold = 0.9            # match probability at which two identity profiles are one person
seed = 42

[engine]                   # what the database may use (defaults from the machine)
memory_limit = "10GB"      # else memory_share (0.4) of the machine's memory
threads = 2                # else every core
temp_directory = "/scratch/miglink"  # spill; else inside the run's work folder
max_temp_directory_size = "40GB"     # else disk_share (0.8) of the disk free there
backend = "duckdb"         # or "spark": blocked pairs scored by Splink's Spark backend
spark_master = "local[*]"  # or a cluster's master URL; spark_conf = { ... } passes settings

[tables]
min_cell = 5               # smaller cells are suppressed (and cells that would reveal them)
random_rounding = false    # official tables: random rounding to base 3 (Stats NZ RR3)
rounding_seed = 1          # its seed, so that a rerun publishes the same figures

[nowcast]                  # provisional events' probabilities of confirmation
cohorts = 4                # also cohort_spacing_days, observed_band_days, shrinkage, match_days

[patterns]                 # temporary and circular migration (UNECE 2016)
temporary_min_days = 90    # circular_events = 3 within circular_years = 10

[population_size]          # usual residents no source saw (multiple-systems estimation)
criterion = "bic"          # or "aic"; also rule, level (0.95), list_window_days (183)

[report]                   # the first page's traffic lights: [green up to, amber up to]
over_coverage = [0.02, 0.05]    # also flow_uncertainty, unlisted_share, linkage_error,
weak_evidence = [0.05, 0.15]    # mirror_difference; weak_probability = 0.8

[sources.census]           # optional: another file name, other column names
file = "enumeration_2021.csv"
columns = { record_id = "enum_id", census_date = "ref_date" }
```
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linkage.link import LinkageSettings
from pipelines.nowcast import NowcastSettings
from pipelines.patterns import PatternSettings
from pipelines.presence_fit import PresenceSettings
from pipelines.report import ReportSettings
from pipelines.resident_population import PopulationSizeSettings
from pipelines.rules import RULES, Rule, RuleParameters
from pipelines.tables import TableSettings
from schemas.contract import SOURCES
from schemas.engine import EngineSettings
from schemas.errors import ConfigError
from schemas.validation import SourceFile

TOP_KEYS = {"country", "as_of", "window_start", "rules", "rule_parameters", "presence",
            "linkage", "tables", "engine", "nowcast", "patterns", "population_size", "report",
            "sources"}


@dataclass(frozen=True)
class RunConfig:
    country: str | None = None
    as_of: dt.date | None = None
    window_start: dt.date | None = None
    rules: tuple[Rule, ...] = RULES
    rule_parameters: RuleParameters = field(default_factory=RuleParameters)
    presence: PresenceSettings = field(default_factory=PresenceSettings)
    linkage: LinkageSettings = field(default_factory=LinkageSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)
    nowcast: NowcastSettings = field(default_factory=NowcastSettings)
    patterns: PatternSettings = field(default_factory=PatternSettings)
    population_size: PopulationSizeSettings = field(default_factory=PopulationSizeSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    tables: TableSettings = field(default_factory=TableSettings)
    sources: dict[str, SourceFile] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, dt.date):
                return value.isoformat()
            if dataclasses.is_dataclass(value):
                return {k: plain(v) for k, v in dataclasses.asdict(value).items()}
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [plain(v) for v in value]
            if isinstance(value, Path):
                return str(value)
            return value

        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _date(name: str, value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as error:
        raise ConfigError(f"{name}={value!r} is not an ISO date YYYY-MM-DD") from error


def _country(name: str, value: Any) -> str:
    if not (isinstance(value, str) and len(value) == 3 and value.isalpha() and value.isupper()):
        raise ConfigError(f"{name}={value!r} is not an ISO 3166-1 alpha-3 code")
    return value


def _rules(value: Any) -> tuple[Rule, ...]:
    values = [value] if isinstance(value, str) else list(value)
    for v in values:
        if v not in RULES:
            raise ConfigError(f"rule={v!r} is not one of {', '.join(RULES)}")
    return tuple(values)


def _section(cls: type, name: str, values: Any) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"[{name}] must be a table")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"[{name}] has unknown keys {sorted(unknown)}; known: {sorted(known)}")
    for key, value in values.items():
        _check_type(name, key, value, _default(cls, key))
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"[{name}]: {error}") from error


def _default(cls: type, key: str) -> Any:
    f = next(f for f in dataclasses.fields(cls) if f.name == key)
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else None


def _check_type(section: str, key: str, value: Any, default: Any) -> None:
    """A value of another kind than the key's default (text for a number, a number for true
    or false) is refused by name; other checks are the section's own."""
    if isinstance(default, bool):
        ok, kind = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, kind = isinstance(value, int) and not isinstance(value, bool), "a whole number"
    elif isinstance(default, float):
        ok, kind = isinstance(value, int | float) and not isinstance(value, bool), "a number"
    elif isinstance(default, str):
        ok, kind = isinstance(value, str), "text"
    else:
        return
    if not ok:
        raise ConfigError(f"[{section}] {key} must be {kind}, got {key}={value!r}")


def _sources(values: Any, base: Path) -> dict[str, SourceFile]:
    out = {}
    for name, spec in values.items():
        if name not in SOURCES:
            raise ConfigError(f"[sources.{name}]: unknown source; known: {sorted(SOURCES)}")
        if "file" not in spec:
            raise ConfigError(f"[sources.{name}] needs file = '...'")
        columns = spec.get("columns", {})
        bad = set(columns) - {c.name for c in SOURCES[name].columns}
        if bad:
            raise ConfigError(f"[sources.{name}.columns] maps unknown columns {sorted(bad)}")
        path = Path(spec["file"])
        out[name] = SourceFile(name, path if path.is_absolute() else base / path, columns)
    return out


def load_config(path: Path | None, data_dir: Path) -> RunConfig:
    """Read a TOML config (or none) into a validated ``RunConfig``."""
    if path is None:
        return RunConfig()
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the config: {error}") from error
    unknown = set(raw) - TOP_KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)}; known: {sorted(TOP_KEYS)}")
    kwargs: dict[str, Any] = {}
    if "country" in raw:
        kwargs["country"] = _country("country", raw["country"])
    for key in ("as_of", "window_start"):
        if key in raw:
            kwargs[key] = _date(key, raw[key])
    if "rules" in raw:
        kwargs["rules"] = _rules(raw["rules"])
    if "rule_parameters" in raw:
        kwargs["rule_parameters"] = _section(RuleParameters, "rule_parameters",
                                             raw["rule_parameters"])
    if "presence" in raw:
        kwargs["presence"] = _section(PresenceSettings, "presence", raw["presence"])
    if "linkage" in raw:
        kwargs["linkage"] = _section(LinkageSettings, "linkage", raw["linkage"])
    if "engine" in raw:
        kwargs["engine"] = _section(EngineSettings, "engine", raw["engine"])
    if "nowcast" in raw:
        kwargs["nowcast"] = _section(NowcastSettings, "nowcast", raw["nowcast"])
    if "patterns" in raw:
        kwargs["patterns"] = _section(PatternSettings, "patterns", raw["patterns"])
    if "population_size" in raw:
        kwargs["population_size"] = _section(PopulationSizeSettings, "population_size",
                                             raw["population_size"])
    if "report" in raw:
        kwargs["report"] = _section(ReportSettings, "report", raw["report"])
    if "tables" in raw:
        kwargs["tables"] = _section(TableSettings, "tables", raw["tables"])
    if "sources" in raw:
        kwargs["sources"] = _sources(raw["sources"], path.parent)
    return RunConfig(**kwargs)


def with_overrides(config: RunConfig, country: str | None, as_of: str | None,
                   rules: list[str] | None, backend: str | None = None) -> RunConfig:
    """The config with the command line's choices over it."""
    changes: dict[str, Any] = {}
    if backend:
        changes["engine"] = dataclasses.replace(config.engine, backend=backend)
    if country:
        changes["country"] = _country("--country", country)
    if as_of:
        changes["as_of"] = _date("--as-of", as_of)
    if rules:
        changes["rules"] = _rules(rules)
    return dataclasses.replace(config, **changes)
