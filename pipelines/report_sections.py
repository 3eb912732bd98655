"""The quality report's sections, one per topic, and the HTML they are made of: tables of
figures (numbers and shares formatted for reading, nothing unescaped), collapsed sections.
``pipelines.report`` puts them on the page."""

from __future__ import annotations

import html
from typing import Any

from pipelines.charts import number, percent

BIAS_LEAST_RECORDS = 30  # linked and unlinked records a source needs for its differences shown


PLAIN_COLUMNS = {"year", "census_date", "as_of", "partner", "weight_from"}


SHARE_WORDS = ("rate", "share", "coverage", "known", "_to_another_source", "of_linked",
               "of_unlinked", "q (known two persons)")


def cell_text(value: Any, column: str = "") -> str:
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
    body = "".join("<tr>" + "".join(f"<td>{cell_text(r.get(c), c)}</td>" for c in columns)
                   + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def link_matrix(rates: list[dict[str, Any]]) -> str:
    sources = sorted({r["source"] for r in rates} | {r["linked_to"] for r in rates})
    cell = {(r["source"], r["linked_to"]): r["link_rate"] for r in rates}
    rows = [{"source": a, **{b: (cell.get((a, b)) if a != b else None) for b in sources}}
            for a in sources]
    return table(rows, ["source", *sources])


def error_total(figures: dict[str, Any], kind: str, key: str | None = None,
                 label: str = "expected") -> dict[str, Any]:
    """A row of error counts: the figure ``key`` (``expected_<kind>`` unless given) and its
    90% interval (``<key>_interval``), under the heading ``label``."""
    key = key or f"expected_{kind}"
    interval = figures.get(f"{key}_interval") or [None, None]
    return {"errors": kind.replace("_", " "), label: figures.get(key),
            "90% interval from": interval[0], "to": interval[1]}


def two_persons_section(control: dict[str, Any] | None) -> str:
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
    ) + table([error_total(control, kind, key=kind, label="counted")
               for kind in ("false_matches", "missed_matches", "split_persons")]) + table([{
                "scored pairs near a link": control["scored_pairs_near_a_link"],
                "q (known two persons)": control["known_two_persons_share"],
                "refused links": control["refused_links"],
                "pairs of persons refused": control["person_pairs_refused"],
                "model's missed matches on them": control[
                    "model_missed_matches_on_known_two_persons"]}])


def collapsed(summary: str, body: str) -> str:
    return f"<details><summary>{html.escape(summary)}</summary>{body}</details>"


def bias_section(rows: list[dict[str, Any]]) -> str:
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
            + collapsed("Link rates and standardised differences, every source and "
                         "category", table(rows)))


def population_section(size: dict[str, Any] | None, dse: dict[str, Any] | None) -> str:
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
    text += collapsed("Dual-system estimates of each pair of lists (Chapman; lists are "
                       "rarely independent, so these disagree)",
                       table(size.get("dual_system", []), ["lists", "on_first", "on_second",
                                                           "on_both", "estimate",
                                                           "standard_error", "low", "high"]))
    if dse:
        text += collapsed("Register x census on census day (Chapman)", table(
            [{"figure": k, "value": v} for k, v in dse.items()]))
    return text


def mirror_section(mirror: dict[str, Any] | None) -> str:
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
            + collapsed("Per partner and year", table(mirror.get("by_partner_and_year", []))))


def pivot_purpose(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows per rule and year, a column per stay purpose."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for r in rows:
        out.setdefault((r["rule"], r["year"]), {"rule": r["rule"], "year": r["year"]})[
            r["stay_purpose"]] = r["immigrations"]
    purposes = sorted({r["stay_purpose"] for r in rows})
    return [{"rule": k[0], "year": k[1], **{p: v.get(p, 0) for p in purposes}}
            for k, v in sorted(out.items())]


def presence_model_section(model: dict[str, Any]) -> str:
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


def flow_interval_section(intervals: list[dict[str, Any]], register: list[dict[str, Any]],
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
