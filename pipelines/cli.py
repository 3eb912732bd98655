"""The ``miglink`` command. Exit status: 0 success, 2 bad input, 1 anything else."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from schemas.errors import MiglinkError, exit_code

log = logging.getLogger("miglink")

DEMO_PERSONS = 5000
DEMO_SEED = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="miglink", description=(
        "Link registers, permits, censuses, surveys and border data into persons, and derive "
        "migration events under the 12-month rules."))
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="synthesise a default population, run, write the report")
    demo.add_argument("--out", type=Path, default=Path("demo_out"))
    demo.add_argument("--persons", type=int, default=DEMO_PERSONS)

    synth = sub.add_parser("synth", help="write synthetic sources and their ground truth")
    synth.add_argument("--persons", type=int, required=True)
    synth.add_argument("--seed", type=int, default=1)
    synth.add_argument("--out", type=Path, required=True)
    synth.add_argument("--world", choices=["default", "hard", "random"], default="default",
                       help="'hard': sparser crossings and signs of life, fewer "
                            "deregistrations, another calendar and country; 'random': every "
                            "behaviour and defect drawn from wide ranges by --seed (the "
                            "parameters drawn go to DIR/world.json)")

    run = sub.add_parser("run", help="validate, link, derive, report")
    run.add_argument("data_dir", type=Path)
    run.add_argument("--out", type=Path, required=True)
    run.add_argument("--config", type=Path)
    run.add_argument("--country")
    run.add_argument("--as-of", dest="as_of")
    run.add_argument("--resume", action="store_true",
                     help="continue a stopped run from its last finished stage")
    run.add_argument("--rule", action="append", dest="rules",
                     choices=["continuous_12", "12_of_16"],
                     help="rule to derive (repeat for several; default both)")
    run.add_argument("--engine", choices=["duckdb", "spark"],
                     help="where blocked pairs are scored (default: [engine] backend, else "
                          "duckdb); spark needs the spark extra, see docs/spark.md")

    enc = sub.add_parser("encode", help="for data custodians: hash keys (HMAC-SHA256) and "
                                        "replace names by keyed Bloom filters")
    enc.add_argument("data_dir", type=Path)
    enc.add_argument("--out", type=Path, required=True)
    enc.add_argument("--key-file", type=Path, help="file holding the project key")
    enc.add_argument("--key-env", help="environment variable holding the project key")
    enc.add_argument("--bits", type=int, default=1024, help="Bloom filter length (bits)")
    enc.add_argument("--hashes", type=int, default=20, help="hash functions per bigram")
    enc.add_argument("--salt-birth-year", action="store_true",
                     help="salt name filters with the birth year (harder to attack, "
                          "misses links when birth years disagree)")

    review = sub.add_parser("review", help="clerical review: sample scored pairs for people "
                                           "to label, then measure the linkage by the labels")
    rsub = review.add_subparsers(dest="review_command", required=True)
    sample = rsub.add_parser("sample", help="write a stratified sample of scored pairs "
                                            "(review.csv, review.html)")
    sample.add_argument("out", type=Path, help="the folder of a finished miglink run")
    sample.add_argument("--to", type=Path, required=True, dest="folder",
                        help="folder for review.csv, review.html, review_design.json")
    sample.add_argument("--size", type=int, default=200)
    sample.add_argument("--seed", type=int, default=1)
    imp = rsub.add_parser("import", help="measured precision and recall from labels")
    imp.add_argument("out", type=Path, help="the folder of the run the sample came from")
    imp.add_argument("labels", type=Path, help="the labelled review.csv")
    imp.add_argument("--write-model", type=Path,
                     help="write the model with m re-estimated from the labels here (use it "
                          "with [linkage] model_file)")

    ex = sub.add_parser("explain", help="a person's evidence timeline, stays and events, "
                                        "without names, birth dates or keys")
    ex.add_argument("out", type=Path)
    ex.add_argument("person_id")

    ev = sub.add_parser("evaluate", help="score a run against ground truth")
    ev.add_argument("out", type=Path)
    ev.add_argument("--truth", type=Path, required=True)
    ev.add_argument("--tolerance-days", type=_days, default=62,
                    help="an event found this close to the true one, same person and type, "
                         "is found (default 62)")
    return parser


def _days(text: str) -> int:
    """A whole number of days, at least 0 (for argparse)."""
    try:
        days = int(text)
    except ValueError:
        days = -1
    if days < 0:
        raise argparse.ArgumentTypeError(f"need a whole number of days, at least 0: {text!r}")
    return days


def _demo(args: argparse.Namespace) -> None:
    from pipelines.config import RunConfig
    from pipelines.evaluate import evaluate, format_evaluation
    from pipelines.run import run_pipeline
    from synthetic import synthesise

    data = args.out.parent / f"{args.out.name}_data"
    synthesise(args.persons, DEMO_SEED, data)
    log.info("synthetic sources for %d persons in %s", args.persons, data)
    run_pipeline(data, args.out, RunConfig())
    print(format_evaluation(evaluate(args.out, data / "truth")))
    print(f"report: {(args.out / 'report.html').resolve()}")


def _review(args: argparse.Namespace) -> None:
    import json

    import duckdb

    from linkage import review
    from schemas.errors import ConfigError
    database, model_path = args.out / "miglink.duckdb", args.out / "model.json"
    if not database.exists() or not model_path.exists():
        raise ConfigError(f"{args.out}: not the folder of a finished miglink run "
                          "(miglink.duckdb and model.json are missing)")
    model_json = json.loads(model_path.read_text())
    if args.review_command == "sample":
        con = duckdb.connect(str(database), read_only=True)
        sample, design = review.sample_pairs(con, args.size, args.seed)
        review.write_review(sample, design, model_json, args.folder)
        print(f"{len(sample)} pairs to label: {(args.folder / 'review.csv').resolve()} "
              f"(side by side: {(args.folder / 'review.html').resolve()})")
        return
    labelled = review.read_labels(args.labels)
    design = args.labels.parent / "review_design.json"
    if not design.exists():
        raise ConfigError(f"{design} is missing: keep it beside the labelled review.csv")
    figures = review.measure(labelled, design)
    (args.labels.parent / "review_measures.json").write_text(json.dumps(figures, indent=1))
    p, r = figures["precision"], figures["recall_among_scored_pairs"]
    print(f"{figures['labelled_pairs']} labelled pairs: precision {p:.4f} "
          f"(95% CI {figures['precision_95ci'][0]:.4f}-{figures['precision_95ci'][1]:.4f}), "
          f"recall among scored pairs {r:.4f} (95% CI {figures['recall_95ci'][0]:.4f}-"
          f"{figures['recall_95ci'][1]:.4f})")
    for band in figures["calibration_by_band"]:
        print(f"  band {band['band']:>14}: {band['labelled']:4d} labelled, match rate "
              f"{band['labelled_match_rate']:.3f}, model {band['mean_match_probability']:.3f}")
    if args.write_model:
        args.write_model.write_text(json.dumps(review.reestimate_m(labelled, model_json),
                                               indent=1))
        print(f"model with m re-estimated from the labels: {args.write_model}")


def _dispatch(args: argparse.Namespace) -> None:
    if args.command == "demo":
        _demo(args)
    elif args.command == "synth":
        from synthetic import synthesise
        from synthetic.worlds import world_for
        world = world_for(args.world, args.seed)
        counts = synthesise(args.persons, args.seed, args.out, world)
        for source, n in counts.items():
            print(f"{source}: {n:,} rows")
    elif args.command == "run":
        from pipelines.config import load_config, with_overrides
        from pipelines.run import run_pipeline
        if not args.data_dir.is_dir():
            from schemas.errors import ConfigError
            raise ConfigError(f"{args.data_dir}: no such folder")
        config = with_overrides(load_config(args.config, args.data_dir), args.country,
                                args.as_of, args.rules, args.engine)
        run_pipeline(args.data_dir, args.out, config, resume=args.resume)
        print(f"report: {(args.out / 'report.html').resolve()}")
    elif args.command == "encode":
        from linkage.encoding import BloomParameters, encode_directory, read_key
        key = read_key(args.key_file, args.key_env)
        params = BloomParameters(args.bits, args.hashes, args.salt_birth_year)
        counts = encode_directory(args.data_dir, args.out, key, params)
        for source, n in counts.items():
            print(f"{source}: {n:,} records encoded")
    elif args.command == "review":
        _review(args)
    elif args.command == "explain":
        from pipelines.explain import explain
        print(explain(args.out, args.person_id))
    elif args.command == "evaluate":
        from pipelines.evaluate import evaluate, format_evaluation
        print(format_evaluation(evaluate(args.out, args.truth, args.tolerance_days)))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    for noisy in ("splink", "py4j"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        _dispatch(args)
    except MiglinkError as error:
        print(f"miglink: {error}", file=sys.stderr)
        return exit_code(error)
    except KeyboardInterrupt:
        print("miglink: interrupted; nothing was written to OUT", file=sys.stderr)
        return 1
    except Exception as error:  # anything unexpected: status 1, with the cause
        log.exception("unexpected failure")
        print(f"miglink: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
