"""A run that stops after linkage can be resumed; bad input or changed input starts afresh."""

from __future__ import annotations

import pytest

from pipelines import run as run_module
from pipelines.config import RunConfig
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
    figures = run_module.run_pipeline(data, out, RunConfig(min_cell=3), resume=True)
    assert figures["stages"][0]["stage"] == "validate"
