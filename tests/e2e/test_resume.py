"""A run that stops after linkage can be resumed; bad input or changed input starts afresh."""

from __future__ import annotations

import pytest

from linkage.link import LinkageSettings
from pipelines import run as run_module
from pipelines.config import RunConfig
from pipelines.tables import TableSettings
from synthetic import synthesise


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("resume") / "data"
    synthesise(400, 5, path)
    return path


def test_resume_continues_after_linkage(data, tmp_path, monkeypatch):
    out = tmp_path / "out"

    def broken(*args, **kwargs):
        raise RuntimeError("stopped on purpose after linkage")

    monkeypatch.setattr(run_module.tables, "build_events", broken)
    with pytest.raises(RuntimeError):
        run_module.run_pipeline(data, out, RunConfig())
    partial = tmp_path / ".out.partial"
    assert not out.exists() and (partial / run_module.CHECKPOINT).exists()

    monkeypatch.undo()

    def no_linking(*args, **kwargs):
        raise AssertionError("linkage ran again")

    monkeypatch.setattr(run_module, "link_sources", no_linking)
    figures = run_module.run_pipeline(data, out, RunConfig(), resume=True)
    assert (out / "migration_events.parquet").exists() and not partial.exists()
    assert [s["stage"] for s in figures["stages"]][:2] == ["validate (checkpoint)",
                                                          "link (checkpoint)"]
    assert not (out / run_module.CHECKPOINT).exists()


def test_without_resume_a_partial_run_is_started_afresh(data, tmp_path):
    partial = tmp_path / ".out.partial"
    partial.mkdir()
    (partial / "stale.txt").write_text("left over")
    run_module.run_pipeline(data, tmp_path / "out", RunConfig())
    assert not partial.exists() and not (tmp_path / "out" / "stale.txt").exists()


def test_changed_config_ignores_the_checkpoint(data, tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setattr(run_module.tables, "build_events",
                        lambda *a, **k: (_ for _ in ()).throw(RuntimeError("stop")))
    with pytest.raises(RuntimeError):
        run_module.run_pipeline(data, out, RunConfig())
    monkeypatch.undo()
    figures = run_module.run_pipeline(data, out, RunConfig(tables=TableSettings(min_cell=3)), resume=True)
    assert figures["stages"][0]["stage"] == "validate"


CHUNKED = RunConfig(linkage=LinkageSettings(pairs_per_chunk=2000))


@pytest.fixture(scope="module")
def uninterrupted(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "out"
    run_module.run_pipeline(data, out, CHUNKED)
    return out


def _stop_in_scoring(monkeypatch):
    """Stop after the second chunk of scored pairs has been kept."""
    from schemas import progress
    original, calls = progress.Progress.advance, []

    def advance(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if self.stage == "score pairs":
            calls.append(1)
            if len(calls) == 2:
                raise KeyboardInterrupt("killed while scoring")

    monkeypatch.setattr(progress.Progress, "advance", advance)


def _stop_in(module, name):
    def stop(monkeypatch):
        def broken(*args, **kwargs):
            raise KeyboardInterrupt(f"killed in {name}")
        monkeypatch.setattr(module, name, broken)
    return stop


@pytest.mark.parametrize("stop, resumed_stage", [
    (_stop_in_scoring, "link"),
    (_stop_in(run_module.presence_stage, "build_observed"), "presence"),
    (_stop_in(run_module.tables, "build_stocks"), "tables"),
], ids=["scoring", "presence", "tables"])
def test_killed_and_resumed_runs_give_identical_tables(data, tmp_path, monkeypatch,
                                                        uninterrupted, stop, resumed_stage):
    out = tmp_path / "out"
    stop(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        run_module.run_pipeline(data, out, CHUNKED)
    assert not out.exists() and (tmp_path / ".out.partial" / run_module.CHECKPOINT).exists()
    monkeypatch.undo()
    figures = run_module.run_pipeline(data, out, CHUNKED, resume=True)
    stages = [s["stage"] for s in figures["stages"]]
    assert stages[0] == "validate (checkpoint)" and resumed_stage in stages
    for table in run_module.OUTPUT_TABLES:
        assert (out / f"{table}.parquet").read_bytes() == \
            (uninterrupted / f"{table}.parquet").read_bytes(), table
