"""Benchmark: how time, memory, disk and scored pairs grow with the population.

Run by hand (never from the tests):

    .venv/bin/python bench/scale.py --persons 100000 200000 500000 1000000

For each size (default world, one seed): ``synth``, then ``run`` with its stages timed (time
and peak memory per stage from ``quality.json``), the peak disk of the run's work folder and
spill (sampled every second), scored pairs per person, and persons and events F1 from
``evaluate``, and each blocking rule's scored pairs, true matches and links against the
truth. In the same process and on the same records, a plain Splink 5 script
(``linkage_synthetic.plain_splink``) links them, so that the ratio of the two linkage times
holds on a noisy machine. Then the growth from the smallest to the largest size: time and
pairs over the size ratio (1.0 is linear).

Figures to ``bench/results/scale.json`` (``--label`` adds to the name). Work folders are
removed unless ``--work`` is given.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from _work import work_folder
from linkage_synthetic import _clean_renderings, _records, plain_splink, score

MIGLINK = [sys.executable, "-m", "pipelines.cli"]


def folder_bytes(folder: Path) -> int:
    total = 0
    try:
        for path in folder.rglob("*"):
            try:
                if path.is_file():
                    total += path.stat().st_size
            except OSError:  # a file removed while we looked
                pass
    except OSError:  # the folder moved into place (or removed) while we looked
        pass
    return total


class DiskPeak:
    """The largest size the folders reached while a command ran (sampled each second)."""

    def __init__(self, *folders: Path):
        self.folders, self.peak, self._stop = folders, 0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            self.peak = max(self.peak, sum(folder_bytes(f) for f in self.folders
                                           if f.exists()))

    def __enter__(self) -> DiskPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def timed(command: list[str]) -> dict:
    """Run a miglink command under GNU time: wall seconds and peak memory (MiB)."""
    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *MIGLINK, *command], capture_output=True,
                          text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(command[:1])} failed:\n{done.stderr[-3000:]}")
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    return {"seconds": round(time.perf_counter() - started, 1),
            "peak_memory_mb": round(int(peak.group(1)) / 1024) if peak else None,
            "log": done.stderr}


def blocking_figures(out: Path, truth: Path) -> list[dict]:
    """Each prediction blocking rule's scored pairs, the true matches among them and the
    links they gave (true and false), read from the run's database against the truth; a
    profile is the true person most of its records belong to."""
    import duckdb

    con = duckdb.connect(str(out / "miglink.duckdb"), read_only=True)
    try:
        rows = con.sql(f"""
            WITH counted AS (
                SELECT p.unique_id, CAST(t.true_person_id AS VARCHAR) AS person, count(*) AS n
                FROM record_profile AS p
                JOIN read_parquet('{truth / "record_person.parquet"}') AS t
                  ON CAST(t.source AS VARCHAR) = p.source
                 AND CAST(t.record_id AS VARCHAR) = p.record_id
                GROUP BY ALL),
            profile_truth AS (
                SELECT unique_id, person FROM counted
                QUALIFY row_number() OVER (PARTITION BY unique_id ORDER BY n DESC, person) = 1)
            SELECT b.blocking_rule, b.rule, count(d.blocking_rule) AS pairs,
                   count(*) FILTER (WHERE l.person = r.person) AS matches,
                   count(*) FILTER (WHERE d.decision = 'link' AND l.person = r.person)
                       AS true_links,
                   count(*) FILTER (WHERE d.decision = 'link' AND l.person <> r.person)
                       AS false_links
            FROM blocking_rules AS b
            LEFT JOIN pair_decisions AS d USING (blocking_rule)
            LEFT JOIN profile_truth AS l ON l.unique_id = d.unique_id_l
            LEFT JOIN profile_truth AS r ON r.unique_id = d.unique_id_r
            GROUP BY ALL ORDER BY b.blocking_rule""")
        return [dict(zip(rows.columns, row, strict=True)) for row in rows.fetchall()]
    finally:
        con.close()


def one_size(persons: int, seed: int, folder: Path, plain: bool,
             sources: Path | None = None) -> dict:
    data, out = folder / f"data_{persons}", folder / f"out_{persons}"
    if sources is not None:  # drawn before (same persons and seed): not timed again
        data = sources
        synth = {"seconds": None}
    else:
        synth = timed(["synth", "--persons", str(persons), "--seed", str(seed), "--out",
                       str(data)])
    with DiskPeak(out.parent / f".{out.name}.partial") as disk:
        run = timed(["run", str(data), "--out", str(out)])
    timed(["evaluate", str(out), "--truth", str(data / "truth")])
    quality = json.loads((out / "quality.json").read_text())
    evaluation = json.loads((out / "evaluation.json").read_text())
    stages = [{k: s.get(k) for k in ("stage", "seconds", "peak_memory_mb")}
              for s in quality["stages"]]
    link = next(s for s in quality["stages"] if s["stage"] == "link")
    records = link["records"]
    row = {
        "persons": persons, "seed": seed, "records": records,
        "input_mb": round(folder_bytes(data) / 1024 ** 2),
        "synth_seconds": synth["seconds"],
        "run_seconds": run["seconds"], "run_peak_memory_mb": run["peak_memory_mb"],
        "peak_work_disk_gb": round(disk.peak / 1024 ** 3, 2),
        "stages": stages,
        "scored_pairs": link["scored_pairs"],
        "scored_pairs_per_person": round(link["scored_pairs"] / persons, 2),
        "persons_f1": evaluation["persons"]["f1"],
        "exact_person_rate": evaluation["persons"].get("exact_person_rate"),
        "events_f1": {r: v["f1"] for r, v in evaluation["events"].items()},
        "engine": quality.get("engine"),
        "blocking": blocking_figures(out, data / "truth"),
    }
    if plain:
        import pandas as pd
        con = _records(data)
        con.register("renderings", _clean_renderings(data))
        ours = score(con, pd.read_parquet(out / "person_records.parquet"))
        person_records, seconds = plain_splink(con)
        theirs = score(con, person_records)
        row["plain_splink"] = {"seconds": round(seconds, 1), "persons_f1": theirs["f1"]}
        row["miglink_linkage"] = {"seconds": link["seconds"], "persons_f1": ours["f1"]}
        row["linkage_time_ratio_miglink_to_plain"] = round(link["seconds"] / seconds, 2)
        con.close()
    return row


def growth(rows: list[dict]) -> dict:
    """From the smallest to the largest size: each figure's ratio over the size ratio."""
    small, large = rows[0], rows[-1]
    size = large["persons"] / small["persons"]
    return {"from_persons": small["persons"], "to_persons": large["persons"],
            "run_time_over_linear": round(large["run_seconds"] / small["run_seconds"] / size,
                                          2),
            "scored_pairs_over_linear": round(large["scored_pairs"] / small["scored_pairs"]
                                              / size, 2),
            "persons_f1_change": round(large["persons_f1"] - small["persons_f1"], 4),
            "events_f1_change": {r: round(large["events_f1"][r] - small["events_f1"][r], 4)
                                 for r in small["events_f1"]}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, nargs="+", default=[100000, 200000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--plain-splink", action=argparse.BooleanOptionalAction, default=True,
                        help="also link the records with a plain Splink 5 script")
    parser.add_argument("--plain-splink-max", type=int, default=200000,
                        help="largest size the plain Splink script links (it holds every "
                             "record in memory)")
    parser.add_argument("--sources", action="append", default=[], metavar="PERSONS=DIR",
                        help="sources already drawn by `miglink synth --persons PERSONS "
                             "--seed SEED` (synth not timed again)")
    parser.add_argument("--work", type=Path, help="keep sources and runs here (else removed)")
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    rows = []
    with work_folder(args.work, "miglink_scale_") as folder:
        drawn = {int(k): Path(v) for k, v in (a.split("=", 1) for a in args.sources)}
        for persons in sorted(args.persons):
            rows.append(one_size(persons, args.seed, folder,
                                 args.plain_splink and persons <= args.plain_splink_max,
                                 drawn.get(persons)))
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "stages"}),
                  flush=True)
    import duckdb
    import splink
    result = {"machine": {"python": platform.python_version(), "platform": platform.platform(),
                          "duckdb": duckdb.__version__, "splink": splink.__version__},
              "command": " ".join(sys.argv), "sizes": rows,
              "growth": growth(rows) if len(rows) > 1 else None}
    name = f"scale{'_' + args.label if args.label else ''}.json"
    target = Path(__file__).parent / "results" / name
    target.write_text(json.dumps(result, indent=1))
    print(json.dumps(result["growth"], indent=1))


if __name__ == "__main__":
    main()
