"""Clerical review round trip: sample, label from the truth, import, re-estimate m."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from linkage.dependence import base_label
from pipelines.cli import main


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    base = tmp_path_factory.mktemp("review")
    data, out, folder = base / "data", base / "out", base / "review"
    assert main(["synth", "--persons", "600", "--seed", "5", "--out", str(data)]) == 0
    assert main(["run", str(data), "--out", str(out)]) == 0
    assert main(["review", "sample", str(out), "--to", str(folder), "--size", "140"]) == 0
    return data, out, folder


def _label_from_truth(data, folder):
    sample = pd.read_csv(folder / "review.csv", dtype=str, keep_default_na=False)
    truth = pd.read_parquet(data / "truth" / "record_person.parquet")
    person = dict(zip(zip(truth.source, truth.record_id, strict=True), truth.true_person_id,
                      strict=True))
    sample["label"] = ["1" if person[(a, b)] == person[(c, d)] else "0" for a, b, c, d in zip(
        sample.source_l, sample.record_id_l, sample.source_r, sample.record_id_r, strict=True)]
    sample.loc[sample.index[:3], "label"] = ["?", "", "match"]  # unsure, skipped, a word
    sample.to_csv(folder / "labelled.csv", index=False)
    return sample


def test_sample_is_stratified_and_self_contained(reviewed):
    _, _, folder = reviewed
    sample = pd.read_csv(folder / "review.csv")
    assert sample["band"].nunique() >= 4  # pairs from several probability bands
    assert sample["pair_id"].is_unique and sample["label"].isna().all()
    page = (folder / "review.html").read_text()
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")
    assert page.count("<section>") == len(sample)


def test_import_measures_precision_and_recall_with_intervals(reviewed, capsys):
    data, out, folder = reviewed
    _label_from_truth(data, folder)
    model_out = folder / "model_reviewed.json"
    assert main(["review", "import", str(out), str(folder / "labelled.csv"),
                 "--write-model", str(model_out)]) == 0
    measures = json.loads((folder / "review_measures.json").read_text())
    low, high = measures["precision_95ci"]
    assert 0.9 <= measures["precision"] <= 1.0 and low <= measures["precision"] <= high
    assert 0.5 <= measures["recall_among_scored_pairs"] <= 1.0
    assert measures["labelled_pairs"] == len(pd.read_csv(folder / "review.csv")) - 2
    # the re-estimated model is a model: m of each comparison sums to one (levels split by
    # name agreement repeat their level's m)
    model = json.loads(model_out.read_text())
    for comparison in model["comparisons"]:
        ms = {base_label(lv["label_for_charts"]): lv["m_probability"]
              for lv in comparison["comparison_levels"] if not lv.get("is_null_level")}
        assert sum(ms.values()) == pytest.approx(1.0, abs=1e-6)
    # and a run can use it instead of training
    config = folder / "reviewed.toml"
    config.write_text(f'[linkage]\nmodel_file = "{model_out}"\n')
    assert main(["run", str(data), "--out", str(folder / "rerun"), "--config",
                 str(config)]) == 0


def test_bad_labels_name_file_column_and_row(reviewed, capsys):
    _, out, folder = reviewed
    sample = pd.read_csv(folder / "review.csv", dtype=str, keep_default_na=False)
    sample.loc[4, "label"] = "maybe"
    sample.to_csv(folder / "bad.csv", index=False)
    assert main(["review", "import", str(out), str(folder / "bad.csv")]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and "label" in err and "6" in err
