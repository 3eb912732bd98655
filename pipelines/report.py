"""``report.html``: the quality report for people, one self-contained file.

No scripts, no fonts, no links to anything outside: inline CSS and inline SVG only, so it
opens offline on a secure server. It shows counts and rates, never identities.
"""

from __future__ import annotations

import html
from typing import Any

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:72rem;color:#1d2733;line-height:1.4;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2.2rem;border-bottom:1px solid #ccd;
padding-bottom:.2rem}table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}
th,td{border:1px solid #d4d9e0;padding:.25rem .55rem;text-align:right}
th{background:#eef1f5}td:first-child,th:first-child{text-align:left}
.note{color:#566;font-size:.85rem;max-width:60rem}.kpi{display:inline-block;margin:.3rem 1.5rem
.3rem 0}.kpi b{font-size:1.3rem;display:block}
"""


PLAIN_COLUMNS = {"year", "census_date", "as_of"}


def _fmt(value: Any, column: str = "") -> str:
    if value is None:
        return "–"
    if column in PLAIN_COLUMNS:
        return html.escape(str(value))
    if isinstance(value, float):
        if abs(value) < 1 and value != 0:
            return f"{value:.3f}"
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return html.escape(str(value))


def table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    if not rows:
        return "<p class='note'>No data.</p>"
    columns = columns or list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(r.get(c), c)}</td>" for c in columns)
                   + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


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


def bar_chart(rows: list[dict[str, Any]], series: list[str], title: str) -> str:
    """Grouped bars as inline SVG."""
    if not rows:
        return ""
    colours = ["#2f6db5", "#8fb3e0", "#c2571a", "#f0a877"]
    top = max((r.get(s) or 0) for r in rows for s in series) or 1
    width, height, pad = 720, 220, 30
    group = (width - pad) / len(rows)
    bar = group * 0.8 / len(series)
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height + 40}' "
             f"role='img' aria-label='{html.escape(title)}'>"]
    for i, r in enumerate(rows):
        x0 = pad + i * group
        for j, s in enumerate(series):
            v = r.get(s) or 0
            h = v / top * height
            parts.append(f"<rect x='{x0 + j * bar:.1f}' y='{height - h:.1f}' width='{bar:.1f}' "
                         f"height='{h:.1f}' fill='{colours[j % 4]}'><title>{html.escape(s)} "
                         f"{r['year']}: {v}</title></rect>")
        parts.append(f"<text x='{x0 + group * 0.4:.1f}' y='{height + 14}' font-size='10' "
                     f"text-anchor='middle'>{r['year']}</text>")
    for j, s in enumerate(series):
        parts.append(f"<rect x='{pad + j * 180}' y='{height + 24}' width='10' height='10' "
                     f"fill='{colours[j % 4]}'/><text x='{pad + j * 180 + 14}' "
                     f"y='{height + 33}' font-size='11'>{html.escape(s)}</text>")
    parts.append("</svg>")
    return "".join(parts)


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


def _link_matrix(rates: list[dict[str, Any]]) -> str:
    sources = sorted({r["source"] for r in rates} | {r["linked_to"] for r in rates})
    cell = {(r["source"], r["linked_to"]): r["link_rate"] for r in rates}
    rows = [{"source": a, **{b: (cell.get((a, b)) if a != b else None) for b in sources}}
            for a in sources]
    return table(rows, ["source", *sources])


def _error_total(figures: dict[str, Any], kind: str, key: str | None = None,
                 label: str = "expected") -> dict[str, Any]:
    """A row of error counts: the figure ``key`` (``expected_<kind>`` unless given) and its
    90% interval (``<key>_interval``), under the heading ``label``."""
    key = key or f"expected_{kind}"
    interval = figures.get(f"{key}_interval") or [None, None]
    return {"errors": kind.replace("_", " "), label: figures.get(key),
            "90% interval from": interval[0], "to": interval[1]}


def _two_persons_section(control: dict[str, Any] | None) -> str:
    """The errors counted against the persons known to be two (a negative control,
    ``pipelines.quality.two_persons_control``)."""
    head = "<h3>Errors checked against the persons known to be two</h3><p class='note'>"
    if not control:
        return head + ("Not available: no scored pairs of persons known to be two came near "
                       "a link (it needs a duplicate-free source, such as a census, and a "
                       "threshold above even odds).</p>")
    return head + (
        "Two persons who both hold a record of one duplicate-free source cannot be one, so "
        "the clustering refused the links between them however strong, and the model, asked "
        "without knowing it, still gives them some chance of being one: errors on "
        "non-matches, seen without labels. Of the scored pairs that came near a link (more "
        "likely a match than not, below the threshold), a share q joins known two persons, "
        "so each of their errors stands for (1 - q) / q among the others, if known two "
        "persons are as prone to coincidences as the others. False matches: the refused "
        "links times (1 - q) / q, counted, not modelled (its 90% interval counts the lumps "
        "links come in). Missed matches and split persons: the model's, less (1 - q) / q "
        "times what it gives the known two persons. Units as above. On synthetic worlds "
        "these came within 20% of the true counts where the model's own ran up to 33% under "
        "(false matches) and 24% over (missed matches); trust them before the model's.</p>"
    ) + table([_error_total(control, kind, key=kind, label="counted")
               for kind in ("false_matches", "missed_matches", "split_persons")]) + table([{
                "scored pairs near a link": control["scored_pairs_near_a_link"],
                "q (known two persons)": control["known_two_persons_share"],
                "refused links": control["refused_links"],
                "pairs of persons refused": control["person_pairs_refused"],
                "model's missed matches on them": control[
                    "model_missed_matches_on_known_two_persons"]}])


def render_report(q: dict[str, Any]) -> str:
    run = q["run"]
    link = q["linkage"]
    sections = [
        f"<h1>miglink quality report</h1><p class='note'>Country {html.escape(run['country'])}"
        f", as-of date {run['as_of']}, window from {run['window_start']}, rules "
        f"{', '.join(run['rules'])}. Generated by miglink {html.escape(run['version'])}. "
        "Counts only: this report never shows names, birth dates or keys.</p>",
        "<div>" + "".join(
            f"<span class='kpi'><b>{_fmt(v)}</b>{html.escape(k)}</span>" for k, v in (
                ("input records", link["records"]), ("persons", link["persons"]),
                ("accepted links", link["accepted_links"]),
                ("expected false joins (persons)", link.get("expected_false_joins")),
                ("expected split persons", link.get("expected_split_persons")))) + "</div>",
        "<h2>Sources</h2>" + table([{"source": s, "records": n}
                                    for s, n in q["sources"].items()])
        + ("<h3>Impossible records kept</h3><p class='note'>Records whose dates contradict "
           "each other (a typing slip, most often in a birth date), counted; they are linked "
           "and used as they stand.</p>" + table(q["input_findings"])
           if q.get("input_findings") else ""),
        "<h2>Linkage</h2><p class='note'>Link rate: share of a source's records (row) whose "
        "person also has a record in the other source (column).</p>"
        + _link_matrix(link["link_rates"])
        + "<h3>By name script</h3>" + table(link["link_rates_by_script"])
        + "<h3>Expected errors in persons</h3><p class='note'>Model-based. A person's "
        "records are repeated measurements of one identity, so two groups of records are "
        "weighed by the mean evidence of the scored pairs between them, with a prior for two "
        "groups of records fitted on all of them; a person is at most one of the others it "
        "was left apart from, so those compete. False joins: of the "
        "joins the clustering made, those that put two people into one person. Split "
        "persons: of the pairs of persons with scored pairs between them, those that are "
        "one person (each adds a person too many).</p>"
        + table([{k: link.get(k) for k in ("joins", "expected_false_joins",
                                            "person_pairs_apart", "expected_split_persons")}])
        + "<p class='note'>By kind of join. Two groups of several profiles each made one "
        "are few and, when wrong, carry many false links at once; on synthetic worlds the "
        "model expected a third of their false links (look-alikes: similar names, one birth "
        "date), and too many of those of a single profile taken into a group. Read the "
        "row of two groups as a lower bound, that of a profile into a group as an upper "
        "one.</p>"
        + table(link.get("errors_by_join_kind", []))
        + "<h3>Expected errors by source pair</h3><p class='note'>Model-based, as fastLink "
        "reports them, in scored pairs of identity profiles: expected false matches = sum of "
        "1-p over the links kept; expected missed matches = sum of p over pairs left in "
        "different persons (pairs of two records of one duplicate-free source excluded); "
        "p is the probability that the pair's two groups of records are one person (all the "
        "pairs between two groups are matches or none is): for a link, that the join "
        "uniting them was right. "
        "Measure them with <code>miglink review</code>. The 90% intervals of the totals "
        "count each join as right or wrong with all the links it carries, and each two "
        "persons kept apart with all the pairs between them: these counts come in lumps.</p>"
        + table([_error_total(link, "false_matches"), _error_total(link, "missed_matches")])
        + table(link.get("errors_by_source_pair", []))
        + _two_persons_section(link.get("two_persons_control"))
        + "<h3>Prior per source pair</h3><p class='note'>How likely two identity profiles "
        "of two sources (a source with itself included; a_side_undated: pairs where a side "
        "has no birth year) are one person before they are compared, fitted on the scored "
        "pairs; expected matches = prior x profile pairs, so this says how densely one "
        "source covers the other.</p>" + table(link.get("source_pair_priors", []))
        + "<h3>Blocking</h3><p class='note'>Pairs each rule adds (pairs an earlier rule made "
        "are not counted again), links among them, the largest block, and profiles whose key "
        "was too common to block on.</p>" + table(link.get("blocking", [])),
    ]
    events = _pivot_events(q["events_by_year"])
    series = [f"{r} {t}" for r in run["rules"] for t in ("immigration", "emigration")]
    sections.append("<h2>Migration events per year and rule</h2>"
                    + bar_chart(events, series, "confirmed events per year")
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
                         f"confirm (mean |relative error| "
                         f"{'n/a' if mean is None else f'{mean:.1%}'}; "
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
        sections.append(
            "<h2>Return, temporary and circular migration</h2><p class='note'>Return "
            "immigration: an immigration of someone resident before (born in the country or "
            "immigrated earlier). Temporary stays: 90 days to under 12 months, by year of "
            "arrival (mobility, not migration). Circular migrants: at least 3 migration events "
            "within 10 years (UNECE 2016). Person-level flags are in "
            "migration_patterns.parquet.</p>"
            + table(patterns["return_immigrations_by_year"])
            + table(patterns["temporary_stays_by_year_of_arrival"])
            + table(patterns["circular_migrants"]))
    model = q.get("presence_model")
    if model:
        sections.append(_presence_model_section(model))
    intervals = q.get("flow_intervals")
    if intervals:
        sections.append(_flow_interval_section(intervals, q.get("naive_register_flows") or [],
                                               q.get("model_error") or []))
    cov = q.get("register_coverage")
    if cov:
        rows = [{"figure": k, "value": v} for k, v in cov.items() if k != "deregistration_lag"]
        rows += [{"figure": f"deregistration lag: {k}", "value": v}
                 for k, v in cov["deregistration_lag"].items()]
        sections.append("<h2>Register coverage</h2><p class='note'>Over-coverage: registered at "
                        "the as-of date but absent then, as the presence model reads the "
                        "person's evidence.</p>" + table(rows))
    dse = q.get("dual_system_estimate")
    if dse:
        sections.append("<h2>Population size: register x census (Chapman)</h2>"
                        + table([{"figure": k, "value": v if not isinstance(v, list) else
                                  f"{v[0]:,.0f} – {v[1]:,.0f}"} for k, v in dse.items()]))
    if q.get("mirror"):
        sections.append("<h2>Mirror statistics</h2><p class='note'>Our confirmed events "
                        "(continuous_12) with each partner against what the partner reports. "
                        "Only events whose previous or next country of residence is known "
                        "count; the share known is below. Partners may use another duration "
                        "rule.</p>" + table(q.get("event_country_coverage", []))
                        + table(q["mirror"]))
    sections.append("<h2>Parameters</h2>" + table(
        [{"parameter": k, "value": v} for k, v in q["parameters"].items()]))
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<title>miglink quality report</title><style>" + CSS + "</style></head><body>"
            + "".join(sections) + "</body></html>")


def _presence_model_section(model: dict[str, Any]) -> str:
    """The presence model's estimates, in weeks and shares."""
    rows = [{"estimate": "signs of life a month while present (mean over persons)",
             "value": model["sign_of_life_rate_per_month_mean"]},
            {"estimate": "share of moves the border records (mean over persons)",
             "value": model["crossing_coverage_mean"]},
            {"estimate": "weeks from arriving to registering (mean)",
             "value": model["mean_weeks_to_register_after_arrival"]},
            {"estimate": "weeks a permit stays valid after its holder left (mean)",
             "value": model["mean_weeks_permit_outlasts_stay"]}]
    for state, weeks in model["mean_weeks_to_deregister"].items():
        rows.append({"estimate": f"weeks to deregistration, {state.replace('_', ' ')}",
                     "value": weeks})
    for state, share in model["census_coverage"].items():
        rows.append({"estimate": f"census enumerates: {state.replace('_', ' ')}",
                     "value": share})
    for state, share in model["sign_of_life_multiplier"].items():
        rows.append({"estimate": f"signs of life, {state.replace('_', ' ')} (x own rate)",
                     "value": share})
    for group in ("citizen", "foreigner"):
        for key, value in model[group].items():
            if not isinstance(value, dict):
                rows.append({"estimate": f"{group}s: {key.replace('_', ' ')}", "value": value})
    rows += [{"estimate": "stays in the country", "value": model["stays"]},
             {"estimate": "persons in doubt somewhere (paths drawn for them)",
              "value": model["persons_in_doubt"]},
             {"estimate": "persons with evidence on one day only (no events)",
              "value": model["persons_with_too_little_evidence"]}]
    return ("<h2>Presence model</h2><p class='note'>Each person's presence, in steps of two "
            "weeks, is a hidden state (present, quiet, leaving, on a trip, just left, "
            "arriving, abroad with or without a deregistration to come); every rate below "
            "was estimated from this run's data by EM.</p>" + table(rows))


def _flow_interval_section(intervals: list[dict[str, Any]], register: list[dict[str, Any]],
                           error: list[dict[str, Any]]) -> str:
    """Flows per rule, year and type with their 90% intervals, beside the register-only
    flows offices publish today; and the model's own error they hold."""
    register_count = {(r["year"], r["event_type"]): r["count"] for r in register}
    rows = [{"rule": r["rule"], "year": r["year"], "event type": r["event_type"],
             "expected": r["expected"], "90% interval": f"{r['low']:,.0f} – {r['high']:,.0f}",
             "register only": register_count.get((r["year"], r["event_type"]))}
            for r in intervals]
    return ("<h2>Flows with their uncertainty</h2><p class='note'>Expected events per year: "
            "the mean over paths drawn from the presence model, each event weighted by the "
            "nowcast while it cannot be decided yet, moved by the model's own error on the "
            "events no crossing dates; the 90% interval holds the paths' spread and that "
            "error. Beside them, the registrations from abroad and deregistrations for "
            "emigration of the population register.</p>" + table(rows)
            + "<p class='note'>The model's own error: persons with some crossing recorded, "
            "read again with their crossings held out. Shift: events gained (+) or lost (-) "
            "per event a crossing had dated, over the complete years.</p>" + table(error))
