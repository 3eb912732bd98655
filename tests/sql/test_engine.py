"""The engine's resources: sizes, defaults from the machine, the disk check, and database
errors that mean memory or disk ran out."""

from __future__ import annotations

import duckdb
import pytest

from linkage.names import initial_class, name_skeleton
from pipelines.config import load_config
from schemas import engine
from schemas.errors import ConfigError, ResourceError, StageError, exit_code
from schemas.sql import run_stage


@pytest.mark.parametrize("text, size", [("12GB", 12 * 1000 ** 3), ("500 MiB", 500 * 1024 ** 2),
                                        ("1.5GiB", int(1.5 * 1024 ** 3)), (2048, 2048)])
def test_sizes_are_read_in_their_units(text, size):
    assert engine.parse_size("x", text) == size


@pytest.mark.parametrize("bad", ["twelve", "-3GB", 0, True, "12 parsecs"])
def test_a_bad_size_names_the_key(bad):
    with pytest.raises(ConfigError, match="memory_limit"):
        engine.EngineSettings(memory_limit=bad)


def test_the_config_section_is_checked(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[engine]\nthreads = 0\n')
    with pytest.raises(ConfigError, match="threads"):
        load_config(path, tmp_path)
    path.write_text('[engine]\nmemory_limit = "3GB"\nthreads = 1\n')
    assert load_config(path, tmp_path).engine.threads == 1


def test_defaults_come_from_the_machine_and_are_applied(tmp_path):
    resources = engine.resolve(engine.EngineSettings(), tmp_path)
    assert 0 < resources.memory_limit < resources.machine_memory
    assert resources.threads >= 1 and resources.temp_directory == tmp_path / ".spill"
    assert 0 < resources.max_temp_directory_size <= resources.disk_free
    con = duckdb.connect()
    engine.apply(con, resources)
    assert con.sql("SELECT current_setting('threads')").fetchall()[0][0] == resources.threads
    con.close()


def test_a_given_temp_directory_gets_a_folder_of_the_runs_own(tmp_path):
    resources = engine.resolve(engine.EngineSettings(temp_directory=str(tmp_path)), tmp_path)
    assert resources.temp_directory.parent == tmp_path  # removing it spares the user's folder


def test_a_run_that_will_not_fit_stops_with_the_numbers(tmp_path):
    with pytest.raises(ResourceError, match="needs about .* GiB .* free") as raised:
        engine.check_disk("link", tmp_path, 10 ** 18)
    assert exit_code(raised.value) == 1


def test_out_of_memory_in_a_stage_says_what_to_change():
    con = duckdb.connect()
    con.execute("SET memory_limit = '20MB'")
    con.execute("SET temp_directory = ''")  # nowhere to spill
    with pytest.raises(ResourceError, match="'big sort' ran out of memory.*memory_limit"):
        run_stage(con, "big sort", "CREATE TABLE t AS SELECT range AS i, repeat('x', 200) "
                                   "AS s FROM range(3000000) ORDER BY s, i DESC")
    con.close()


def test_other_database_errors_name_the_stage():
    con = duckdb.connect()
    with pytest.raises(StageError, match="'counting'"):
        run_stage(con, "counting", "SELECT count(*) FROM no_such_table")


@pytest.mark.parametrize("a, b", [("Кайрат", "QAIRAT"), ("Шахин", "SAHIN"), ("Усман", "OSMAN"),
                                  ("Гнатюк", "HNATIUK"), ("Çelik", "Celik")])
def test_initials_that_transliterations_confuse_are_one_class(a, b):
    assert initial_class(name_skeleton(a)) == initial_class(name_skeleton(b))


def test_distinct_initials_stay_apart():
    assert initial_class(name_skeleton("Maria")) != initial_class(name_skeleton("Bivol"))
