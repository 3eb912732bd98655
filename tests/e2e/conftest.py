"""End-to-end tests: whole runs through the contract on small synthetic data. All are
marked ``slow`` (``make test`` runs them; ``-m "not slow"`` leaves them out)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.cli import main

E2E_PERSONS = 2000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def run(tmp_path_factory) -> dict[str, Path]:
    """One synthetic country of ``E2E_PERSONS`` persons, run and evaluated, shared by the
    end-to-end tests that only read it."""
    base = tmp_path_factory.mktemp("e2e")
    data, out = base / "data", base / "out"
    assert main(["synth", "--persons", str(E2E_PERSONS), "--seed", "7", "--out", str(data)]) == 0
    assert main(["run", str(data), "--out", str(out)]) == 0
    assert main(["evaluate", str(out), "--truth", str(data / "truth")]) == 0
    return {"data": data, "out": out, "persons": E2E_PERSONS}
