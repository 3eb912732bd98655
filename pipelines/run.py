"""``miglink run``: validate, link, derive presence and events, write tables and report.

Outputs are written to a temporary folder beside OUT and moved into place only when the
whole run succeeded: OUT is never half-written. Each stage logs its counts and elapsed time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from linkage.backend import scorer_for
from linkage.link import link_sources
from pipelines import (
    linkage_bias,
    linkage_quality,
    mirror,
    nowcast,
    patterns,
    presence_fit,
    quality,
    resident_population,
    tables,
    uncertainty,
)
from pipelines import presence as presence_stage
from pipelines.config import RunConfig
from pipelines.presence_model import ModelParameters
from pipelines.report import render_report
from schemas import engine
from schemas import sql as db
from schemas.errors import ConfigError, MiglinkError, exit_code, resource_error
from schemas.progress import peak_memory_mb
from schemas.sql import day_number, run_stage
from schemas.steps import Steps
from schemas.validation import discover_sources, load_and_validate

log = logging.getLogger("miglink")

OUTPUT_TABLES = ("links", "person_records", "persons", "residence_spells", "migration_events",
                 "migration_patterns",
                 "flows", "stocks")
OBSERVATION_DATES = {  # what counts for the as-of date: things observed, never a future end
    "population_register": ("registration_date", "deregistration_date"),
    "aliens_register": ("registration_date",),
    "census": ("census_date",),
    "survey": ("interview_date",),
    "border_crossings": ("crossing_date",),
    "activity": ("activity_date",),
}


@dataclass
class StageClock:
    """Progress: stage names, elapsed seconds and peak memory as the run goes."""

    started: float = field(default_factory=time.perf_counter)
    stages: list[dict[str, Any]] = field(default_factory=list)
    running: str = "start"
    _last: float = field(default_factory=time.perf_counter)

    def begin(self, stage: str) -> None:
        """Log that ``stage`` starts (errors from here on name it)."""
        self.running = stage
        log.info("[%6.1f s] %s ...", time.perf_counter() - self.started, stage)

    def done(self, stage: str, **counts: Any) -> None:
        now = time.perf_counter()
        record = {"stage": stage, "seconds": round(now - self._last, 2), **counts,
                  "peak_memory_mb": peak_memory_mb()}
        self.stages.append(record)
        shown = ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}"
                          for k, v in counts.items())
        log.info("[%6.1f s] %s done (%.1f s)%s", now - self.started, stage, now - self._last,
                 f": {shown}" if shown else "")
        self._last = now


def resolve_country(config: RunConfig, data_dir: Path, con: Any = None,
                    typed: dict[str, str] | None = None) -> str:
    """--country, else the config, else DIR/country.txt, else inferred from the data: the
    most common citizenship in the population register (or census)."""
    if config.country:
        return config.country
    marker = data_dir / "country.txt"
    if marker.exists():
        return marker.read_text().strip()
    for source in ("population_register", "census"):
        if con is not None and typed and source in typed:
            row = db.rows(con, "validate",
                          f"SELECT mode(citizenship ORDER BY citizenship), count(citizenship) "
                             f"FROM {typed[source]}")[0]
            if row[0]:
                log.warning("no country given: using %s, the most common citizenship in %s "
                            "(pass --country to choose)", row[0], source)
                return row[0]
    raise ConfigError("no country: pass --country ISO3, set country in the config, or put "
                      f"it in {marker}")


def observed_as_of(con: Any, typed: dict[str, str]) -> dt.date:
    parts = [f"SELECT max({c}) AS d FROM {typed[s]}"
             for s, cols in OBSERVATION_DATES.items() if s in typed for c in cols]
    value = db.value(con, "validate", f"SELECT max(d) FROM ({' UNION ALL '.join(parts)})")
    if value is None:
        raise ConfigError("no source observed anything: cannot derive the as-of date")
    return value


def sign_of_life_start(con: Any, typed: dict[str, str], as_of: dt.date) -> dt.date:
    """First day on which signs of life were observed (as_of when there are none)."""
    if "activity" not in typed:
        return as_of
    value = db.value(con, "validate",
                     f"SELECT min(activity_date) FROM {typed['activity']}")
    return value or as_of


def default_window_start(evidence_start: dt.date, lookback_days: int = 92) -> dt.date:
    """The first 1 January at least ``lookback_days`` after signs of life start.

    The first months of a sign-of-life source cannot yet tell a new arrival from someone
    already here. The status at the window start comes from the whole history (registers
    reach back decades)."""
    earliest = evidence_start + dt.timedelta(days=lookback_days)
    return earliest if (earliest.month, earliest.day) == (1, 1) else \
        dt.date(earliest.year + 1, 1, 1)


CHECKPOINT = "checkpoint.json"


def input_fingerprint(data_dir: Path, config: RunConfig) -> str:
    """What a checkpoint is valid for: the input files (name, size, time) and the config."""
    files = sorted((p.name, p.stat().st_size, int(p.stat().st_mtime))
                   for p in data_dir.iterdir() if p.is_file())
    settings = {k: v for k, v in config.to_json().items() if k != "engine"}  # no result
    text = json.dumps([files, settings], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def run_pipeline(data_dir: Path, out: Path, config: RunConfig, resume: bool = False
                 ) -> dict[str, Any]:
    """The whole pipeline; returns the quality figures.

    Work happens in a hidden folder beside OUT (``.OUT.partial``), moved into place only when
    complete. After linkage a checkpoint is written there; if a run stops later, ``resume``
    continues from it (when inputs and config are unchanged). Bad input leaves nothing.
    """
    clock = StageClock()
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.parent / f".{out.name}.partial"
    fingerprint = input_fingerprint(data_dir, config)
    if work.exists() and not (resume and _checkpoint(work, fingerprint)):
        shutil.rmtree(work)
    engine.check_disk("run", out.parent, _disk_needed(data_dir, work, config))
    if work.exists():
        log.info("resuming the stopped run in %s", work)
    work.mkdir(exist_ok=True)
    resources = engine.resolve(config.engine, work)
    try:
        figures = _run(data_dir, work, config, clock, fingerprint, resources)
        if out.exists():
            shutil.rmtree(out)
        os.replace(work, out)
        log.info("outputs written to %s", out)
        return figures
    except MiglinkError as error:
        if exit_code(error) == 2:  # bad input: nothing is kept
            shutil.rmtree(work, ignore_errors=True)
        else:
            _keep_for_resume(work)
        raise
    except Exception as error:
        _keep_for_resume(work)
        converted = resource_error(clock.running, error)
        if converted is not None:
            raise converted from error
        raise
    except BaseException:
        _keep_for_resume(work)
        raise


def _keep_for_resume(work: Path) -> None:
    if (work / CHECKPOINT).exists():
        log.info("partial work kept in %s: run again with --resume to continue", work)
    else:
        shutil.rmtree(work, ignore_errors=True)


def _disk_needed(data_dir: Path, work: Path, config: RunConfig) -> int:
    """Bytes the rest of a run still needs on disk: ``disk_per_input_byte`` times the input
    files' size, less what the work folder already holds."""
    def size(folder: Path) -> int:
        return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) \
            if folder.exists() else 0
    needed = size(data_dir) * config.engine.disk_per_input_byte - size(work)
    return max(0, int(needed))


def _checkpoint(work: Path, fingerprint: str) -> dict[str, Any] | None:
    path = work / CHECKPOINT
    if not path.exists():
        return None
    saved = json.loads(path.read_text())
    return saved if saved.get("fingerprint") == fingerprint else None


def _run(data_dir: Path, work: Path, config: RunConfig, clock: StageClock,
         fingerprint: str, resources: engine.Resources) -> dict[str, Any]:
    con = duckdb.connect(str(work / "miglink.duckdb"))
    try:
        engine.apply(con, resources)
        return _stages(con, data_dir, work, config, clock, fingerprint, resources)
    finally:  # closed on every exit: a stopped run's database is reopened from its file
        con.close()
        shutil.rmtree(resources.temp_directory, ignore_errors=True)


def _stages(con: Any, data_dir: Path, work: Path, config: RunConfig, clock: StageClock,
            fingerprint: str, resources: engine.Resources) -> dict[str, Any]:
    steps = Steps(con)

    def stage(name: str, work_fn: Any, counts: Any = None) -> Any:
        """Run one stage (or take its result from a stopped run) and log its counts."""
        result = steps.result(name)
        if result is not None:
            clock.done(f"{name} (checkpoint)", **(counts(result) if counts else {}))
            return result
        clock.begin(name)
        result = work_fn()
        run_stage(con, "checkpoint", "CHECKPOINT")
        steps.mark(name, result if result is not None else True)
        clock.done(name, **(counts(result) if counts else {}))
        return result

    typed = stage("validate", lambda: load_and_validate(
        con, discover_sources(data_dir, config.sources)), lambda t: {"sources": len(t)})
    (work / CHECKPOINT).write_text(json.dumps({"fingerprint": fingerprint}))

    country = resolve_country(config, data_dir, con, typed)
    as_of = config.as_of or observed_as_of(con, typed)
    sol_start = sign_of_life_start(con, typed, as_of)
    window_start = config.window_start or default_window_start(
        min(sol_start, as_of))
    if window_start > as_of:
        window_start = dt.date(as_of.year, 1, 1)
    log.info("country %s, as-of %s, window from %s", country, as_of, window_start)

    def link() -> dict[str, int]:
        engine.check_disk("link", work, _disk_needed(data_dir, work, config))
        with scorer_for(con, config.engine, resources, work / "scoring") as scorer:
            result = link_sources(con, typed, config.linkage, model_path=work / "model.json",
                                  steps=steps, scorer=scorer)
        return {"records": result.records, "profiles": result.profiles,
                "scored_pairs": result.scored_pairs, "persons": result.persons}

    stage("link", link, lambda c: c)

    T = day_number(as_of)
    sol_day = day_number(sol_start)
    model_file = work / "presence_model.json"

    def presence() -> dict[str, int]:
        presence_stage.build_evidence(con, typed, config.presence.expiry_days,
                                      config.presence.min_evidence_days)
        fitted = presence_fit.build_presence(
            con, typed, country, T,
            presence_fit.grid_start(day_number(window_start), sol_day), config.presence,
            earlier=nowcast.as_of_dates(T, config.rule_parameters.tw, sol_day, config.nowcast))
        model_file.write_text(json.dumps(fitted.to_json(), indent=1))
        presence_stage.build_observed(con, country, T)
        presence_stage.build_initial_status(con, day_number(window_start))
        return {"stays": db.count(con, "presence", "presence")}

    stage("presence", presence, lambda c: c)
    model = ModelParameters.from_json(json.loads(model_file.read_text()))

    def events() -> dict[str, int]:
        tables.build_events(con, config.rules, config.rule_parameters)
        nowcast.build_nowcast(con, config, typed, country, T, sol_day)
        uncertainty.build_sampled_events(con, config.rules, config.rule_parameters,
                                         config.presence.samples,
                                         config.presence.same_event_days)
        uncertainty.build_model_error(con, config.rules, config.rule_parameters,
                                      day_number(window_start), T, config.presence.pin_days,
                                      config.presence.model_error_min_events,
                                      config.presence.model_error_least_kept)
        tables.build_migration_events(con, typed, day_number(window_start), T)
        tables.build_residence_spells(con)
        patterns.build_patterns(con, config.rule_parameters.tm, config.patterns)
        uncertainty.build_flow_intervals(con, config.presence.samples,
                                         day_number(window_start), T,
                                         config.nowcast.observed_band_days,
                                         config.presence.same_event_days)
        return {"events": db.count(con, "events", "migration_events")}

    stage("events", events, lambda c: c)
    backtest = stage("nowcast backtest", lambda: nowcast.backtest(con, config, country, T,
                                                                  sol_day))

    def official() -> dict[str, int]:
        tables.build_flows(con, config.tables.min_cell)
        tables.build_stocks(con, window_start.year, T, config.tables.min_cell)
        return tables.official_tables(con, work / "official", config.tables.min_cell,
                                      config.tables.published_rounding_seed)

    protected = stage("tables", official,
                      lambda p: {"suppressed_cells": sum(p.values())})

    clock.begin("quality")
    census_day = None
    if "census" in typed:
        value = db.value(con, "quality",
                         f"SELECT mode(census_date ORDER BY census_date) FROM {typed['census']}")
        census_day = value.isoformat() if value else None
    linkage_figures = linkage_quality.linkage_figures(con, config.linkage.threshold)
    if (work / "model.json").exists():
        linkage_figures["comparison_levels"] = linkage_quality.comparison_levels(
            json.loads((work / "model.json").read_text()))
    figures: dict[str, Any] = {
        "run": {"country": country, "as_of": as_of.isoformat(),
                "window_start": window_start.isoformat(),
                "sign_of_life_start": sol_start.isoformat(),
                "rules": list(config.rules), "version": _version()},
        "sources": quality.source_sizes(con, typed),
        "input_findings": quality.input_findings(con),
        "linkage": linkage_figures,
        "presence_model": quality.presence_model(con, model),
        "flow_intervals": quality.flow_intervals(con),
        "model_error": quality.model_error(con),
        "events_by_year": quality.events_by_year(con),
        "naive_register_flows": quality.naive_register_flows(con, typed),
        "register_coverage": quality.register_coverage(con, typed, T, country),
        "weak_evidence": quality.weak_evidence(con, config.report.weak_probability),
        "dual_system_estimate": quality.dual_system_estimate(con, typed, census_day),
        "population_size": resident_population.population_size(
            con, typed, census_day, country, linkage_figures, config.population_size),
        "mirror": mirror.mirror_statistics(con, typed, country, window_start.year,
                                           as_of.year),
        "event_country_coverage": quality.event_country_coverage(con),
        "initial_status": quality.initial_status(con, day_number(window_start)),
        "nowcast": quality.nowcast_summary(con, T, config.rule_parameters.tw),
        "nowcast_backtest": backtest,
        "migration_patterns": patterns.pattern_summary(con, day_number(window_start), T,
                                                       config.rule_parameters.tm,
                                                       config.patterns),
        "immigration_by_stay_purpose": patterns.immigration_by_stay_purpose(
            con, typed, day_number(window_start), T, config.patterns),
        "linkage_bias": linkage_bias.linkage_bias(con, country, as_of.year),
        "parameters": _flat_parameters(config),
        "engine": {"backend": config.engine.backend} | resources.to_json() | (
            {"spark_master": config.engine.spark_master}
            if config.engine.backend == "spark" else {}),
        "official_tables_suppressed_cells": protected,
    }
    clock.done("quality")
    clock.begin("write")
    written_as = {  # tables whose rows are not already in a fixed order
        "persons": "(SELECT p.*, f.first_evidence_date, f.first_seen_in_window FROM persons "
                   "AS p LEFT JOIN initial_status AS f USING (person_id) ORDER BY p.person_id)",
        "person_records": "(SELECT * FROM person_records ORDER BY person_id, source, "
                          "record_id)"}
    for table in OUTPUT_TABLES:
        relation = written_as.get(table, table)
        run_stage(con, "write",
                  f"COPY {relation} TO {db.literal(str(work / (table + '.parquet')))} "
                  "(FORMAT parquet)")
    clock.done("write", tables=len(OUTPUT_TABLES))  # what follows takes milliseconds
    figures["stages"] = clock.stages
    (work / "quality.json").write_text(json.dumps(figures, indent=1, default=str))
    (work / "report.html").write_text(render_report(figures, config.report))
    saved = config.to_json() | {"country": country, "as_of": as_of.isoformat(),
                                "window_start": window_start.isoformat()}
    (work / "run_config.json").write_text(json.dumps(saved, indent=1))
    (work / CHECKPOINT).unlink(missing_ok=True)
    return figures


def _flat_parameters(config: RunConfig) -> dict[str, Any]:
    r, k = config.rule_parameters, config.linkage
    return {"tm": r.tm, "tw": r.tw, "gap_max": r.gap_max, "min_cell": config.tables.min_cell,
            "link_threshold": k.threshold, "seed": k.seed,
            "presence_samples": config.presence.samples}


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("miglink")
    except Exception:  # not installed: running from a checkout
        return "dev"

