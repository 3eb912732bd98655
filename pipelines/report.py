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


BIAS_LEAST_RECORDS = 30  # linked and unlinked records a source needs for its differences shown
PLAIN_COLUMNS = {"year", "census_date", "as_of", "partner", "weight_from"}
SHARE_WORDS = ("rate", "share", "coverage", "known", "_to_another_source", "of_linked",
               "of_unlinked", "q (known two persons)")


def _fmt(value: Any, column: str = "") -> str:
    if value is None:
        return "–"
    if column in PLAIN_COLUMNS or isinstance(value, bool):
        return html.escape(str(value))
    if isinstance(value, int | float):
        if any(w in column for w in SHARE_WORDS) and isinstance(value, float) \
                and abs(value) <= 1.5:
            return percent(value, 3)
        return number(value)
    if isinstance(value, list):  # an interval's two ends, or names
        if all(isinstance(v, int | float) for v in value):
            return html.escape(" – ".join(number(v) for v in value))
        return html.escape(", ".join(str(v) for v in value))
    return html.escape(str(value))


def table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    if not rows or not isinstance(rows, list):
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
    ``pipelines.linkage_quality.two_persons_control``)."""
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
        "times what it gives the known two persons. Units as above.</p>"
    ) + table([_error_total(control, kind, key=kind, label="counted")
               for kind in ("false_matches", "missed_matches", "split_persons")]) + table([{
                "scored pairs near a link": control["scored_pairs_near_a_link"],
                "q (known two persons)": control["known_two_persons_share"],
                "refused links": control["refused_links"],
                "pairs of persons refused": control["person_pairs_refused"],
                "model's missed matches on them": control[
                    "model_missed_matches_on_known_two_persons"]}])


def _collapsed(summary: str, body: str) -> str:
    return f"<details><summary>{html.escape(summary)}</summary>{body}</details>"


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


def _bias_section(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    # the largest differences among sources with enough records either side to tell
    linked_total: dict[str, int] = {}
    unlinked_total: dict[str, int] = {}
    for r in rows:
        if r["characteristic"] == rows[0]["characteristic"]:
            linked_total[r["source"]] = linked_total.get(r["source"], 0) + r["records"] \
                - r["unlinked_records"]
            unlinked_total[r["source"]] = unlinked_total.get(r["source"], 0) \
                + r["unlinked_records"]
    flagged = sorted((r for r in rows if r["standardised_difference"] is not None
                      and abs(r["standardised_difference"]) >= 0.1
                      and min(linked_total[r["source"]], unlinked_total[r["source"]])
                      >= BIAS_LEAST_RECORDS),
                     key=lambda r: -abs(r["standardised_difference"]))[:12]
    return ("<h3>Who fails to link</h3><p class='note'>A record is linked when its person "
            "holds a record of another source too. Standardised difference of a category's "
            "share among the linked and the unlinked records of a source: beyond 0.1 in "
            "size the linked records are not a fair sample of the source in that respect "
            f"(the largest below, in sources with at least {BIAS_LEAST_RECORDS} linked and "
            "unlinked records; all in the collapsed table).</p>"
            + table([{"source": r["source"],
                      "characteristic": r["characteristic"].replace("_", " "),
                      "category": r["category"], "records": r["records"],
                      "unlinked": r["unlinked_records"], "link rate": r["link_rate"],
                      "share of linked": r["share_of_linked"],
                      "share of unlinked": r["share_of_unlinked"],
                      "std. difference": r["standardised_difference"]} for r in flagged])
            + _collapsed("Link rates and standardised differences, every source and "
                         "category", table(rows)))


def _population_section(size: dict[str, Any] | None, dse: dict[str, Any] | None) -> str:
    if not size:
        return ""
    head = size.get("estimate") or {}
    columns = ["lists", "model", "in_scope_persons", "listed", "estimate", "low", "high",
               "linkage_sensitivity"]
    groups = [{"group": f"{k.replace('by_', '').replace('_', ' ')}: "
                        f"{r[k.replace('by_', '')]}", **r}
              for k in ("by_citizenship_group", "by_sex", "by_age_group")
              for r in size.get(k, [])]
    text = ("<h2>Population size: usual residents no source saw</h2><p class='note'>Persons "
            f"usually resident on census day ({size['census_date']}, rule {size['rule']}; "
            "over-coverage removed first) on each list: "
            + ", ".join(size["lists"]) + ". Poisson log-linear models with every main effect "
            f"and the two-list interactions chosen by {size['criterion'].upper()}, fitted per "
            "group (foreigners are on lists citizens cannot be on); the headline adds the "
            "citizenship groups. Intervals are profile likelihood at "
            f"{percent(size['level'], 2)}; the headline's also holds how many more or fewer "
            "persons the presence model's drawn paths make resident, and its own error in "
            "reading who is resident (measured on persons read again with their recorded "
            "crossings held out). Linkage sensitivity: "
            "the estimate with the expected split persons joined, and with the expected "
            "false joins split.</p>")
    if head:
        text += table([{"estimate": head["estimate"], "low": head["low"], "high": head["high"],
                        "listed": head["listed"], "in_scope_persons": head["in_scope_persons"],
                        "linkage_sensitivity": head.get("linkage_sensitivity")}])
    text += table(groups, ["group", *columns])
    text += _collapsed("Dual-system estimates of each pair of lists (Chapman; lists are "
                       "rarely independent, so these disagree)",
                       table(size.get("dual_system", []), ["lists", "on_first", "on_second",
                                                           "on_both", "estimate",
                                                           "standard_error", "low", "high"]))
    if dse:
        text += _collapsed("Register x census on census day (Chapman)", table(
            [{"figure": k, "value": v} for k, v in dse.items()]))
    return text


def _mirror_section(mirror: dict[str, Any] | None) -> str:
    if not mirror:
        return ""
    return ("<h2>Mirror statistics</h2><p class='note'>Our confirmed events "
            f"({mirror['rule']}) with each partner against what the partner reports: ratio, "
            "symmetric relative difference 2(ours - theirs)/(ours + theirs) and gap, on our "
            "events whose previous or next country is known; <i>ours allocated</i> also "
            "shares out the events of unknown country, and <i>partner coverage</i> is the "
            "partner's count over it. Partners may use another duration rule.</p>"
            + table(mirror.get("by_year", []))
            + table(mirror.get("by_partner", []))
            + _collapsed("Per partner and year", table(mirror.get("by_partner_and_year", []))))


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
        "has a record in the other source (column).</p>" + _link_matrix(link["link_rates"])
        + _bias_section(q.get("linkage_bias") or [])
        + "<h3>Expected errors in persons</h3><p class='note'>Model-based. A person's "
        "records are repeated measurements of one identity, so two groups of records are "
        "weighed by the mean evidence of the scored pairs between them, with a prior for two "
        "groups of records fitted on all of them. False joins: of the joins the clustering "
        "made, those that put two people into one person. Split persons: of the pairs of "
        "persons with scored pairs between them, those that are one person (each adds a "
        "person too many).</p>"
        + table([{k: link.get(k) for k in ("joins", "expected_false_joins",
                                            "person_pairs_apart", "expected_split_persons")}])
        + _collapsed("By kind of join (two groups of several profiles each made one are few "
                     "and carry many links at once)", table(link.get("errors_by_join_kind", [])))
        + "<h3>Expected errors by source pair</h3><p class='note'>Model-based, as fastLink "
        "reports them, in scored pairs of identity profiles: expected false matches = sum of "
        "1-p over the links kept; expected missed matches = sum of p over pairs left in "
        "different persons (pairs of two records of one duplicate-free source excluded). "
        "Measure them with <code>miglink review</code>. The 90% intervals count each join "
        "with all the links it carries: these counts come in lumps.</p>"
        + table([_error_total(link, "false_matches"), _error_total(link, "missed_matches")])
        + _collapsed("Per source pair", table(link.get("errors_by_source_pair", [])))
        + _two_persons_section(link.get("two_persons_control"))
        + _collapsed("Prior per source pair: how likely two identity profiles of two sources "
                     "are one person before they are compared",
                     table(link.get("source_pair_priors", [])))
        + _collapsed("Blocking: pairs each rule adds, links among them, the largest block",
                     table(link.get("blocking", [])))
        + _collapsed("Link rates by name script", table(link["link_rates_by_script"]))
        + _collapsed("The model's m and u per comparison level (match weight: log2 m/u)",
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
            + _collapsed("Circular migrants and temporary movers by citizenship",
                         table(patterns.get("movers_by_citizenship", [])))
            + ("<h3>Immigration by stay purpose</h3><p class='note'>The purpose the aliens "
               "register or a residence permit states nearest the arrival, within a year "
               "(work, study, family, protection, other); citizens' and unregistered "
               "arrivals have none.</p>" + table(_pivot_purpose(q["immigration_by_stay_purpose"]))
               if q.get("immigration_by_stay_purpose") else ""))
    model = q.get("presence_model")
    if model:
        sections.append(_presence_model_section(model))
    intervals = q.get("flow_intervals")
    if intervals:
        sections.append(_flow_interval_section(intervals, q.get("naive_register_flows") or [],
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
                        + _collapsed("By citizenship and age group",
                                     table(cov.get("over_coverage_by_group", [])))
                        + _collapsed("Usual residents and registered persons by sex and age",
                                     table(cov.get("pyramid", []))))
    sections.append(_population_section(q.get("population_size"), q.get("dual_system_estimate")))
    sections.append(_mirror_section(q.get("mirror")))
    sections.append(_collapsed("Parameters of this run", table(
        [{"parameter": k, "value": v} for k, v in q["parameters"].items()])))
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<title>miglink quality report</title><style>" + CSS + "</style></head><body>"
            + "".join(sections) + "</body></html>")


def _pivot_purpose(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows per rule and year, a column per stay purpose."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for r in rows:
        out.setdefault((r["rule"], r["year"]), {"rule": r["rule"], "year": r["year"]})[
            r["stay_purpose"]] = r["immigrations"]
    purposes = sorted({r["stay_purpose"] for r in rows})
    return [{"rule": k[0], "year": k[1], **{p: v.get(p, 0) for p in purposes}}
            for k, v in sorted(out.items())]


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
