"""``report.html``: the quality report for people, one self-contained file.

No scripts, no fonts, no links to anything outside: inline CSS and inline SVG only
(``pipelines.charts``), so it opens offline on a secure server. It shows counts and rates,
never identities. The first page answers how good this run's migration figures are, each
judged green, amber or red against the thresholds of ``[report]`` (``ReportSettings``);
long tables follow in collapsed sections.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
from dataclasses import dataclass
from typing import Any

from pipelines import charts
from pipelines.charts import number, percent
from pipelines.report_sections import (
    bias_section,
    collapsed,
    error_total,
    flow_interval_section,
    link_matrix,
    mirror_section,
    pivot_purpose,
    population_section,
    presence_model_section,
    table,
    two_persons_section,
)
from pipelines.rules import last_complete_year

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:72rem;color:#1d2733;line-height:1.4;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2.2rem;border-bottom:1px solid #ccd;
padding-bottom:.2rem}table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}
th,td{border:1px solid #d4d9e0;padding:.25rem .55rem;text-align:right}
td{white-space:nowrap}
th{background:#eef1f5}td:first-child,th:first-child{text-align:left}
.note{color:#566;font-size:.85rem;max-width:60rem}
details{margin:.8rem 0}summary{cursor:pointer;font-weight:600}
figure.chart{margin:.8rem 0}figcaption{font-size:.8rem;color:#566}
.light{display:inline-block;width:.85rem;height:.85rem;border-radius:50%;
vertical-align:middle;margin-right:.3rem;border:1px solid #0003}
.green{background:#3a9a5b}.amber{background:#e0a526}.red{background:#c63d2f}
.grey{background:#c9ced4}td.meaning{text-align:left;max-width:34rem;font-size:.84rem;
white-space:normal}
"""


@dataclass(frozen=True)
class ReportSettings:
    """``[report]``: the first page's traffic lights. Each pair is (green up to, amber up
    to); beyond it is red."""

    # half the width of a complete year's 90% flow interval, over the expected flow
    flow_uncertainty: tuple[float, float] = (0.05, 0.15)
    # register residents on the as-of date the presence model finds absent
    over_coverage: tuple[float, float] = (0.02, 0.05)
    # usual residents on census day no source listed (multiple-systems estimate)
    unlisted_share: tuple[float, float] = (0.01, 0.05)
    # expected false matches among links, or missed matches among matches
    linkage_error: tuple[float, float] = (0.005, 0.02)
    # confirmed events the presence model's paths hold with less than weak_probability
    weak_evidence: tuple[float, float] = (0.05, 0.15)
    # |symmetric relative difference| of our emigration and partners' immigration from us
    mirror_difference: tuple[float, float] = (0.2, 0.5)
    weak_probability: float = 0.8

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "weak_probability":
                if not 0 < float(value) < 1:
                    raise ValueError(f"weak_probability must be between 0 and 1, got {value!r}")
                continue
            if len(value) != 2 or not 0 <= float(value[0]) <= float(value[1]):
                raise ValueError(f"{f.name} must be [green_up_to, amber_up_to] with "
                                 f"0 <= green_up_to <= amber_up_to, got {value!r}")
            object.__setattr__(self, f.name, (float(value[0]), float(value[1])))


def _pivot_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows per year, columns per rule x event type (confirmed + provisional)."""
    out: dict[int, dict[str, Any]] = {}
    for e in events:
        row = out.setdefault(e["year"], {"year": e["year"]})
        key = f"{e['rule']} {e['event_type']}"
        if e["status"] == "provisional":
            key += " (provisional)"
        row[key] = row.get(key, 0) + e["count"]
    return [out[y] for y in sorted(out)]


def _beside_naive(q: dict[str, Any], rules: list[str]) -> list[dict[str, Any]]:
    first = int(q["run"]["window_start"][:4])
    rows: dict[int, dict[str, Any]] = {}
    for r in q["naive_register_flows"]:
        if r["year"] >= first:
            rows.setdefault(r["year"], {"year": r["year"]})[f"register {r['event_type']}"] = \
                r["count"]
    for e in q["events_by_year"]:
        if e["status"] == "confirmed" and e["year"] in rows:
            rows[e["year"]][f"{e['rule']} {e['event_type']}"] = e["count"]
    columns = ["year", "register immigration", "register emigration",
               *[f"{r} {t}" for r in rules for t in ("immigration", "emigration")]]
    return [{c: rows[y].get(c) for c in columns} for y in sorted(rows)]


def _light(value: float | None, bounds: tuple[float, float]) -> str:
    if value is None:
        return "grey"
    return "green" if value <= bounds[0] else "amber" if value <= bounds[1] else "red"


def complete_years(q: dict[str, Any]) -> tuple[list[int], int]:
    """The years of the run's flows whose events are all final at the as-of date, and the
    as-of year."""
    as_of = dt.date.fromisoformat(q["run"]["as_of"])
    last = last_complete_year(as_of, int(q["parameters"]["tw"]))
    years = sorted({r["year"] for r in q.get("flow_intervals") or []})
    return [y for y in years if y <= last], as_of.year


def _flow_rows(q: dict[str, Any]) -> tuple[str, float | None]:
    """This year's and the last complete years' flows per rule, with intervals, beside the
    register's; and the largest relative half-width of a complete year's interval."""
    done, this_year = complete_years(q)
    shown = done[-3:] + [y for y in (this_year - 1, this_year) if y not in done]
    cell = {(r["rule"], r["year"], r["event_type"]): r for r in q.get("flow_intervals") or []}
    register = {(r["year"], r["event_type"]): r["count"]
                for r in q.get("naive_register_flows") or []}
    rows, widths = [], []
    for rule in q["run"]["rules"]:
        for year in shown:
            imm, emi = cell.get((rule, year, "immigration")), cell.get((rule, year, "emigration"))
            if not imm or not emi:
                continue
            half_net = (((imm["high"] - imm["low"]) / 2) ** 2
                        + ((emi["high"] - emi["low"]) / 2) ** 2) ** 0.5
            net = imm["expected"] - emi["expected"]
            if year in done:
                widths += [(r["high"] - r["low"]) / 2 / r["expected"] for r in (imm, emi)
                           if r["expected"]]
            reg_i, reg_e = register.get((year, "immigration")), register.get((year, "emigration"))
            rows.append({
                "rule": rule, "year": f"{year}" if year in done else
                f"{year} (to {q['run']['as_of']}, not final)" if year == this_year else
                f"{year} (not final)",
                "immigration": f"{number(imm['expected'])} ({number(imm['low'])} – "
                               f"{number(imm['high'])})",
                "emigration": f"{number(emi['expected'])} ({number(emi['low'])} – "
                              f"{number(emi['high'])})",
                "net migration": f"{number(net)} (± {number(half_net)})",
                "register: immigration": reg_i, "register: emigration": reg_e,
                "register: net": None if reg_i is None or reg_e is None else reg_i - reg_e})
    columns = ["rule", "year", "immigration", "emigration", "net migration",
               "register: immigration", "register: emigration", "register: net"]
    return table(rows, columns), (max(widths) if widths else None)


def _first_page(q: dict[str, Any], settings: ReportSettings) -> str:
    flows, width = _flow_rows(q)
    link = q["linkage"]
    cov = q.get("register_coverage") or {}
    size = (q.get("population_size") or {}).get("estimate")
    weak = q.get("weak_evidence") or []
    mirror = (q.get("mirror") or {}).get("by_year") or []
    done, _ = complete_years(q)
    lights = []

    def judge(name: str, value_text: str, value: float | None, bounds: tuple[float, float],
              meaning: str) -> None:
        lights.append(f"<tr><td>{html.escape(name)}</td><td>{value_text}</td><td>"
                      f"<span class='light {_light(value, bounds)}'></span>"
                      f"{_light(value, bounds)}</td><td class='meaning'>{meaning}</td></tr>")

    judge("Flow uncertainty", "±" + percent(width), width, settings.flow_uncertainty,
          "Half the 90% interval of a complete year's flow, over the flow: how far this "
          "year's published immigration or emigration may be off from the evidence.")
    rate = cov.get("over_coverage_rate")
    judge("Register over-coverage", percent(rate) + f" ({number(cov.get('over_coverage'))} of "
          f"{number(cov.get('registered_residents'))})", rate, settings.over_coverage,
          "Persons the population register holds on the as-of date whom the evidence puts "
          f"abroad: the register over-counts by this much. "
          f"{number(cov.get('unregistered_residents'))} residents are not registered "
          "(under-coverage).")
    unlisted = None
    if size:
        unlisted = (size["estimate"] - size["listed"]) / size["estimate"]
        judge("Usual residents no source saw", percent(unlisted) + " of "
              f"{number(size['estimate'])} ({number(size['low'])} – {number(size['high'])})",
              unlisted, settings.unlisted_share,
              "Multiple-systems estimate of the usual residents on census day against "
              "those some source lists: the part of the population every source missed.")
    error = max(link.get("expected_false_discovery_rate") or 0.0,
                link.get("expected_false_negative_rate") or 0.0)
    judge("Linkage errors", f"false {percent(link.get('expected_false_discovery_rate'))}, "
          f"missed {percent(link.get('expected_false_negative_rate'))}", error,
          settings.linkage_error,
          "Expected share of the links that join two people, and of the true matches left "
          "apart (the larger is judged): errors that move persons between sources.")
    if weak:
        share = max(r["weak_share"] for r in weak)
        judge("Events on weak evidence", percent(share), share, settings.weak_evidence,
              f"Confirmed events the presence model holds with less than "
              f"{percent(settings.weak_probability, 2)} probability: another reading of the "
              "same evidence would drop or move them.")
    emigration = [r for r in mirror if r["event_type"] == "emigration"
                  and r["year"] in done and r.get("ours_allocated")]
    if emigration:
        ours = sum(r["ours_allocated"] for r in emigration)
        theirs = sum(r["theirs"] for r in emigration)
        difference = 2 * (ours - theirs) / (ours + theirs)
        judge("Mirror statistics", f"{number(difference, 2)} (ours {number(ours)}, partners "
              f"{number(theirs)})", abs(difference), settings.mirror_difference,
              "Symmetric relative difference of our emigration (events of unknown "
              "destination shared out) and the partners' immigration from us over the "
              "complete years; partners count with their own rules and coverage.")
    head = ("<tr><th>indicator</th><th>this run</th><th>judgement</th><th>what it means"
            "</th></tr>")
    return ("<h2>How good are our migration statistics</h2>"
            "<p class='note'>Expected events per year with their 90% intervals, under each "
            "rule, beside what the population register alone gives (registrations from "
            "abroad, deregistrations to abroad). Years not final still wait for events "
            "the next months will decide (nowcast).</p>" + flows
            + f"<table>{head}{''.join(lights)}</table>"
            "<p class='note'>Thresholds: <code>[report]</code> in the configuration.</p>")


def _charts(q: dict[str, Any]) -> str:
    out = []
    intervals = q.get("flow_intervals") or []
    register = q.get("naive_register_flows") or []
    years = {r["year"] for r in intervals}
    for event_type in ("immigration", "emigration"):
        series = [{"name": rule, "points": [(r["year"], r["expected"], r["low"], r["high"])
                                            for r in intervals if r["rule"] == rule
                                            and r["event_type"] == event_type]}
                  for rule in q["run"]["rules"]]
        series.append({"name": "register only", "dashed": True,
                       "points": [(r["year"], r["count"], None, None) for r in register
                                  if r["event_type"] == event_type and r["year"] in years]})
        out.append(charts.lines_with_intervals(
            series, f"{event_type.capitalize()} per year: expected with 90% interval, by "
            "rule, and the register's count"))
    cov = q.get("register_coverage") or {}
    if cov.get("pyramid"):
        out.append(charts.pyramid(cov["pyramid"], f"Usual residents against the register on "
                                                  f"{cov['as_of']}, by sex and age"))
    groups = cov.get("over_coverage_by_group") or []
    if groups:
        ages = sorted({r["age_group"] for r in groups})
        citizenship = sorted({r["citizenship_group"] for r in groups})
        rate = {(r["citizenship_group"], r["age_group"]): r["over_coverage_rate"] for r in groups}
        out.append(charts.bars(ages, [{"name": c, "values": [rate.get((c, a)) for a in ages]}
                                      for c in citizenship],
                               "Register over-coverage on the as-of date by citizenship "
                               "and age group", value_label=lambda v: percent(v, 2)))
    lags = cov.get("deregistration_lag_distribution") or []
    if lags:
        out.append(charts.bars([r["lag"] for r in lags],
                               [{"name": "deregistrations",
                                 "values": [r["deregistrations"] for r in lags]}],
                               "Deregistration lag: last sign of life to deregistration for "
                               "emigration"))
    size = q.get("population_size") or {}
    if size:
        rows = []
        headline = size.get("estimate")
        if headline:
            rows.append({"label": "all (sum of groups)", **headline})
        for key, column in (("by_citizenship_group", "citizenship_group"), ("by_sex", "sex"),
                            ("by_age_group", "age_group")):
            rows += [{"label": f"{column.replace('_', ' ')}: {r[column]}", **r}
                     for r in size.get(key, []) if r.get("estimate") is not None]
        out.append(charts.intervals(rows, f"Usual residents on {size['census_date']} no "
                                          "source listed, as a share of those listed: "
                                          "multiple-systems estimate with its 95% interval"))
    mirror = (q.get("mirror") or {}).get("by_partner_and_year") or []
    emigration = [r for r in mirror if r["event_type"] == "emigration"]
    if emigration:
        partners = sorted({r["partner"] for r in emigration})
        mirror_years = sorted({r["year"] for r in emigration})
        cell = {(r["partner"], r["year"]): r["partner_coverage"] for r in emigration}
        centred = {k: (v - 1 if v is not None else None) for k, v in cell.items()}
        out.append(charts.heatmap(partners, mirror_years, centred,
                                  "Mirror statistics: partners' immigration from us over our "
                                  "emigration to them, less 1 (blue: partner counts fewer, "
                                  "orange: more)", scale=0.5))
    weights = (q.get("linkage") or {}).get("match_weight_distribution") or []
    if weights:
        pairs: dict[str, list[tuple[float, int]]] = {}
        for r in weights:
            pairs.setdefault(r["source_pair"], []).append((r["weight_from"], r["pairs"]))
        biggest = sorted(pairs, key=lambda k: -sum(c for _w, c in pairs[k]))[:9]
        out.append(charts.histograms(
            [{"name": k, "bins": pairs[k], "width": 2.0} for k in sorted(biggest)],
            "Match weights of the scored pairs per source pair (bar heights on a log scale)"))
    return "<h2>At a glance</h2>" + "".join(out)


def render_report(q: dict[str, Any], settings: ReportSettings | None = None) -> str:
    settings = settings or ReportSettings()
    run = q["run"]
    link = q["linkage"]
    sections = [
        f"<h1>miglink quality report</h1><p class='note'>Country {html.escape(run['country'])}"
        f", as-of date {run['as_of']}, window from {run['window_start']}, rules "
        f"{', '.join(run['rules'])}. Generated by miglink {html.escape(run['version'])}. "
        "Counts only: this report never shows names, birth dates or keys.</p>",
        _first_page(q, settings),
        _charts(q),
        "<h2>Sources</h2>" + table([{"source": s, "records": n}
                                    for s, n in q["sources"].items()])
        + ("<h3>Impossible records kept</h3><p class='note'>Records whose dates contradict "
           "each other (a typing slip, most often in a birth date), counted; they are linked "
           "and used as they stand.</p>" + table(q["input_findings"])
           if q.get("input_findings") else ""),
        "<h2>Linkage</h2>" + table([{k: link.get(k) for k in (
            "records", "identity_profiles", "scored_pairs", "accepted_links", "persons")}])
        + "<p class='note'>Link rate: share of a source's records (row) whose person also "
        "has a record in the other source (column).</p>" + link_matrix(link["link_rates"])
        + bias_section(q.get("linkage_bias") or [])
        + "<h3>Expected errors in persons</h3><p class='note'>Model-based. A person's "
        "records are repeated measurements of one identity, so two groups of records are "
        "weighed by the mean evidence of the scored pairs between them, with a prior for two "
        "groups of records fitted on all of them. False joins: of the joins the clustering "
        "made, those that put two people into one person. Split persons: of the pairs of "
        "persons with scored pairs between them, those that are one person (each adds a "
        "person too many).</p>"
        + table([{k: link.get(k) for k in ("joins", "expected_false_joins",
                                            "person_pairs_apart", "expected_split_persons")}])
        + collapsed("By kind of join (two groups of several profiles each made one are few "
                     "and carry many links at once)", table(link.get("errors_by_join_kind", [])))
        + "<h3>Expected errors by source pair</h3><p class='note'>Model-based, as fastLink "
        "reports them, in scored pairs of identity profiles: expected false matches = sum of "
        "1-p over the links kept; expected missed matches = sum of p over pairs left in "
        "different persons (pairs of two records of one duplicate-free source excluded). "
        "Measure them with <code>miglink review</code>. The 90% intervals count each join "
        "with all the links it carries: these counts come in lumps.</p>"
        + table([error_total(link, "false_matches"), error_total(link, "missed_matches")])
        + collapsed("Per source pair", table(link.get("errors_by_source_pair", [])))
        + two_persons_section(link.get("two_persons_control"))
        + collapsed("Prior per source pair: how likely two identity profiles of two sources "
                     "are one person before they are compared",
                     table(link.get("source_pair_priors", [])))
        + collapsed("Blocking: pairs each rule adds, links among them, the largest block",
                     table(link.get("blocking", [])))
        + collapsed("Link rates by name script", table(link["link_rates_by_script"]))
        + collapsed("The model's m and u per comparison level (match weight: log2 m/u)",
                     table(link.get("comparison_levels", []))),
    ]
    events = _pivot_events(q["events_by_year"])
    sections.append("<h2>Migration events per year and rule</h2>"
                    + table(events, ["year", *[c for c in sorted({k for r in events for k in r})
                                               if c != "year"]]))
    if q.get("naive_register_flows"):
        sections.append("<h2>Naive register flows beside the derived events</h2>"
                        "<p class='note'>Registrations from abroad and deregistrations for "
                        "emigration, as offices publish them today, beside the confirmed "
                        "events of each rule.</p>" + table(_beside_naive(q, run["rules"])))
    if q.get("nowcast"):
        back = q.get("nowcast_backtest") or {}
        note = ("<p class='note'>Events of the last 16 months are not all decidable yet. A "
                "provisional event's probability of confirmation comes from cohorts whose "
                "window is complete (the pipeline run as of earlier dates), by rule, event "
                "type, days observed so far and group (citizen or not, sex, age group, stay "
                "purpose). Expected = confirmed + provisional x probability + the share of "
                "events not yet visible at all (estimated the same way).</p>")
        back_html = ""
        if back.get("possible"):
            mean = back["mean_absolute_relative_error_expected"]
            back_html = (f"<h3>Backtest</h3><p class='note'>As if the as-of date were "
                         f"{back['as_of_then']}: expected counts of the events dated in the "
                         f"{back['period_days']} days before it, against what the later data "
                         f"confirm (mean |relative error| {percent(mean)}; "
                         f"{back['cohort_events']:,} cohort events).</p>"
                         + table(back["by_rule_and_type"]))
        elif back:
            back_html = f"<p class='note'>No backtest: {html.escape(back['reason'])}.</p>"
        sections.append("<h2>Nowcast: provisional and expected events</h2>" + note
                        + table(q["nowcast"]) + back_html)
    status = q.get("initial_status")
    if status:
        sections.append(
            "<h2>Status at the window start</h2><p class='note'>Residents at the window start "
            "under each rule, from the whole history before it (registers reach back decades). "
            "Persons first seen inside the window start as non-residents (residents when born "
            "in the country) by default, not by evidence; they are flagged in persons.parquet "
            "(<code>first_seen_in_window</code>).</p>"
            + table(status["residents_at_window_start"])
            + table([{k: v for k, v in status.items() if k != "residents_at_window_start"}]))
    patterns = q.get("migration_patterns")
    if patterns:
        rules = patterns["definition"]
        sections.append(
            "<h2>Return, temporary, circular and labour migration</h2><p class='note'>Return "
            "immigration: an immigration of someone resident before (born in the country or "
            f"immigrated earlier). Temporary stays: {rules['temporary_min_days']} days to "
            f"under {rules['temporary_max_days']} days, by year of arrival (mobility, not "
            f"migration). Circular migrants: at least {rules['circular_events']} migration "
            f"events within {rules['circular_years']} years (UNECE 2016). Person-level flags "
            "are in "
            "migration_patterns.parquet.</p>"
            + table(patterns["return_immigrations_by_year"])
            + table(patterns["temporary_stays_by_year_of_arrival"])
            + table(patterns["circular_migrants"])
            + collapsed("Circular migrants and temporary movers by citizenship",
                         table(patterns.get("movers_by_citizenship", [])))
            + ("<h3>Immigration by stay purpose</h3><p class='note'>The purpose the aliens "
               "register or a residence permit states nearest the arrival, within a year "
               "(work, study, family, protection, other); citizens' and unregistered "
               "arrivals have none.</p>" + table(pivot_purpose(q["immigration_by_stay_purpose"]))
               if q.get("immigration_by_stay_purpose") else ""))
    model = q.get("presence_model")
    if model:
        sections.append(presence_model_section(model))
    intervals = q.get("flow_intervals")
    if intervals:
        sections.append(flow_interval_section(intervals, q.get("naive_register_flows") or [],
                                               q.get("model_error") or []))
    cov = q.get("register_coverage")
    if cov:
        rows = [{"figure": k.replace("_", " "), "value": v} for k, v in cov.items()
                if not isinstance(v, dict | list)]
        rows += [{"figure": f"deregistration lag: {k.replace('_', ' ')}", "value": v}
                 for k, v in cov["deregistration_lag"].items()]
        sections.append("<h2>Register coverage</h2><p class='note'>Over-coverage: registered at "
                        "the as-of date but absent then, as the presence model reads the "
                        "person's evidence.</p>" + table(rows)
                        + collapsed("By citizenship and age group",
                                     table(cov.get("over_coverage_by_group", [])))
                        + collapsed("Usual residents and registered persons by sex and age",
                                     table(cov.get("pyramid", []))))
    sections.append(population_section(q.get("population_size"), q.get("dual_system_estimate")))
    sections.append(mirror_section(q.get("mirror")))
    sections.append(collapsed("Parameters of this run", table(
        [{"parameter": k, "value": v} for k, v in q["parameters"].items()])))
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<title>miglink quality report</title><style>" + CSS + "</style></head><body>"
            + "".join(sections) + "</body></html>")


