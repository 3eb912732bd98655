"""Charts as inline SVG for the report: no script, no font, nothing fetched, so the report
opens offline. Every mark carries a ``<title>`` with its numbers (a tooltip in browsers),
and every chart is drawn from figures that are also in ``quality.json``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

COLOURS = ("#2f6db5", "#c2571a", "#3a9a5b", "#8a5cb8", "#b8860b", "#5f7a8a", "#d04e86",
           "#4aa3a3")
WIDTH = 680


def number(value: float | None, digits: int = 3) -> str:
    """A number for reading: thousands separated, three significant digits below that."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    if value == 0:
        return "0"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{value:,.0f}"
    size = abs(value)
    if size >= 10 ** (digits - 1):
        return f"{value:,.0f}"
    decimals = digits - 1 - int(math.floor(math.log10(size)))
    return f"{value:,.{max(decimals, 0)}f}"


def percent(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    if 0 < abs(value) < 1e-4:
        return "< 0.01%"
    return number(100 * value, digits) + "%"


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _svg(height: int, title: str, body: list[str], width: int = WIDTH) -> str:
    return (f"<figure class='chart'><svg xmlns='http://www.w3.org/2000/svg' width='{width}' "
            f"height='{height}' viewBox='0 0 {width} {height}' role='img' "
            f"aria-label='{_esc(title)}'>" + "".join(body)
            + f"</svg><figcaption>{_esc(title)}</figcaption></figure>")


def _ticks(top: float, count: int = 4) -> list[float]:
    if top <= 0:
        return [0.0]
    step = 10 ** math.floor(math.log10(top / count))
    for factor in (1, 2, 2.5, 5, 10):
        if top / (step * factor) <= count:
            step *= factor
            break
    return [i * step for i in range(int(top // step) + 1)]


def _legend(names: Sequence[str], y: float, x0: float = 50) -> list[str]:
    out, x = [], x0
    for i, name in enumerate(names):
        colour = COLOURS[i % len(COLOURS)]
        out.append(f"<rect x='{x:.0f}' y='{y - 9:.0f}' width='10' height='10' "
                   f"fill='{colour}'/><text x='{x + 14:.0f}' y='{y:.0f}' font-size='11'>"
                   f"{_esc(name)}</text>")
        x += 24 + 6.5 * len(name)
    return out


def _axis_y(top: float, y_of, left: float, right: float, label: Any = number) -> list[str]:
    out = []
    for t in _ticks(top):
        y = y_of(t)
        out.append(f"<line x1='{left}' x2='{right}' y1='{y:.1f}' y2='{y:.1f}' "
                   f"stroke='#e3e7ec'/><text x='{left - 4}' y='{y + 3:.1f}' font-size='10' "
                   f"text-anchor='end'>{_esc(label(t))}</text>")
    return out


def lines_with_intervals(series: list[dict[str, Any]], title: str,
                         value_label: Any = number) -> str:
    """Series of points (x, value, low, high): a line each, interval whiskers where given;
    a series with ``dashed`` set is drawn dashed (a baseline)."""
    points = [p for s in series for p in s["points"]]
    if not points:
        return ""
    xs = sorted({p[0] for p in points})
    top = max(max(p[1], p[3] if p[3] is not None else p[1]) for p in points) * 1.1 or 1
    left, right, height, bottom = 60, WIDTH - 20, 260, 210
    def x_of(x): return left + (xs.index(x) + 0.5) * (right - left) / len(xs)
    def y_of(v): return bottom - v / top * (bottom - 20)
    body = _axis_y(top, y_of, left, right, value_label)
    for x in xs:
        body.append(f"<text x='{x_of(x):.1f}' y='{bottom + 14}' font-size='10' "
                    f"text-anchor='middle'>{_esc(x)}</text>")
    for i, s in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        pts = sorted(s["points"])
        path = " ".join(f"{'M' if j == 0 else 'L'}{x_of(p[0]):.1f},{y_of(p[1]):.1f}"
                        for j, p in enumerate(pts))
        dash = " stroke-dasharray='5 4'" if s.get("dashed") else ""
        body.append(f"<path d='{path}' fill='none' stroke='{colour}' stroke-width='2'"
                    f"{dash}/>")
        for x, v, low, high in pts:
            tip = f"{s['name']} {x}: {value_label(v)}"
            if low is not None and high is not None:
                tip += f" ({value_label(low)} to {value_label(high)})"
                body.append(f"<line x1='{x_of(x):.1f}' x2='{x_of(x):.1f}' "
                            f"y1='{y_of(low):.1f}' y2='{y_of(high):.1f}' stroke='{colour}' "
                            f"stroke-width='1.5'/>")
            body.append(f"<circle cx='{x_of(x):.1f}' cy='{y_of(v):.1f}' r='3' "
                        f"fill='{colour}'><title>{_esc(tip)}</title></circle>")
    body += _legend([s["name"] for s in series], height - 12)
    return _svg(height, title, body)


def bars(categories: list[str], series: list[dict[str, Any]], title: str,
         value_label: Any = number, height: int = 240) -> str:
    """Grouped vertical bars: ``series`` of {name, values (one per category)}."""
    values = [v for s in series for v in s["values"] if v is not None]
    if not categories or not values:
        return ""
    top = max(values) * 1.1 or 1
    left, right, bottom = 60, WIDTH - 20, height - 50
    def y_of(v): return bottom - v / top * (bottom - 20)
    group = (right - left) / len(categories)
    bar = group * 0.8 / len(series)
    body = _axis_y(top, y_of, left, right, value_label)
    for i, category in enumerate(categories):
        x0 = left + i * group + group * 0.1
        for j, s in enumerate(series):
            v = s["values"][i]
            if v is None:
                continue
            body.append(f"<rect x='{x0 + j * bar:.1f}' y='{y_of(v):.1f}' width='{bar:.1f}' "
                        f"height='{bottom - y_of(v):.1f}' fill='{COLOURS[j % len(COLOURS)]}'>"
                        f"<title>{_esc(s['name'])}, {_esc(category)}: {value_label(v)}"
                        f"</title></rect>")
        body.append(f"<text x='{left + (i + 0.5) * group:.1f}' y='{bottom + 14}' "
                    f"font-size='10' text-anchor='middle'>{_esc(category)}</text>")
    if len(series) > 1:
        body += _legend([s["name"] for s in series], height - 12)
    return _svg(height, title, body)


def pyramid(rows: list[dict[str, Any]], title: str) -> str:
    """Population pyramid: bars of usual residents by age group (men left, women right),
    the register's count as a dark tick on each bar."""
    groups = sorted({r["age_group"] for r in rows})
    cell = {(r["sex"], r["age_group"]): r for r in rows}
    top = max([max(r["usual_residents"], r["registered"]) for r in rows] or [0]) or 1
    row_h, middle, half = 14, WIDTH / 2, WIDTH / 2 - 70
    height = 30 + row_h * len(groups) + 30
    body = [f"<text x='{middle - half / 2:.0f}' y='14' font-size='11' text-anchor='middle'>"
            "men</text>", f"<text x='{middle + half / 2:.0f}' y='14' font-size='11' "
            "text-anchor='middle'>women</text>"]
    for i, group in enumerate(reversed(groups)):
        y = 22 + i * row_h
        body.append(f"<text x='{middle}' y='{y + 10}' font-size='9' text-anchor='middle'>"
                    f"{_esc(group)}</text>")
        for sex, side, colour in (("M", -1, COLOURS[0]), ("F", 1, COLOURS[1])):
            r = cell.get((sex, group))
            if not r:
                continue
            width = r["usual_residents"] / top * (half - 20)
            x = middle + 20 if side > 0 else middle - 20 - width
            body.append(f"<rect x='{x:.1f}' y='{y}' width='{width:.1f}' height='{row_h - 2}' "
                        f"fill='{colour}' opacity='0.75'><title>{sex} {_esc(group)}: "
                        f"{number(r['usual_residents'])} usual residents, "
                        f"{number(r['registered'])} registered</title></rect>")
            tick = middle + side * (20 + r["registered"] / top * (half - 20))
            body.append(f"<line x1='{tick:.1f}' x2='{tick:.1f}' y1='{y - 1}' "
                        f"y2='{y + row_h - 1}' stroke='#1d2733' stroke-width='2'/>")
    body.append(f"<text x='{middle}' y='{height - 8}' font-size='10' text-anchor='middle'>"
                "bars: usual residents (continuous_12); ticks: registered</text>")
    return _svg(height, title, body)


def intervals(rows: list[dict[str, Any]], title: str) -> str:
    """Estimates of groups of different sizes, each as the share of persons beyond those
    listed (``estimate / listed - 1``), with its interval: rows of {label, estimate, low,
    high, listed}."""
    rows = [r for r in rows if r.get("estimate") is not None and r.get("listed")]
    if not rows:
        return ""
    def share(r: dict[str, Any], key: str) -> float | None:
        return None if r.get(key) is None else r[key] / r["listed"] - 1
    ends = [v for r in rows for v in (share(r, "low"), share(r, "high"), share(r, "estimate"))
            if v is not None]
    lo, hi = min(min(ends), 0.0), max(max(ends), 1e-4) * 1.1
    left, right, row_h = 170, WIDTH - 30, 22
    height = 20 + row_h * len(rows) + 24
    def x_of(v): return left + (v - lo) / ((hi - lo) or 1) * (right - left)
    body = [f"<line x1='{x_of(0):.1f}' x2='{x_of(0):.1f}' y1='8' y2='{height - 22}' "
            "stroke='#8a949e'/>"]
    for i, r in enumerate(rows):
        y = 20 + i * row_h
        body.append(f"<text x='{left - 8}' y='{y + 4}' font-size='11' text-anchor='end'>"
                    f"{_esc(r['label'])}</text>")
        low, high = share(r, "low"), share(r, "high")
        if low is not None and high is not None:
            body.append(f"<line x1='{x_of(low):.1f}' x2='{x_of(high):.1f}' y1='{y}' "
                        f"y2='{y}' stroke='{COLOURS[0]}' stroke-width='2'/>")
        body.append(f"<circle cx='{x_of(share(r, 'estimate')):.1f}' cy='{y}' r='4' "
                    f"fill='{COLOURS[0]}'><title>{_esc(r['label'])}: {number(r['estimate'])}"
                    f" ({number(r.get('low'))} to {number(r.get('high'))}) for "
                    f"{number(r['listed'])} listed</title></circle>")
    body.append(f"<text x='{x_of(0):.1f}' y='{height - 6}' font-size='10' "
                f"text-anchor='middle'>0 (all listed)</text><text x='{right}' "
                f"y='{height - 6}' font-size='10' text-anchor='end'>+{percent(hi)}</text>")
    return _svg(height, title, body)


def heatmap(rows: list[str], columns: list[Any], cell: dict[tuple[str, Any], float | None],
            title: str, scale: float = 1.0) -> str:
    """A grid coloured from blue (below zero) to orange (above), ``scale`` the value of a
    full colour; each cell's value is in its tooltip and, where it fits, written in it."""
    if not rows or not columns:
        return ""
    left, top_pad, w = 60, 20, min(56, (WIDTH - 70) / len(columns))
    h = 18
    height = top_pad + h * len(rows) + 10
    body = []
    for j, c in enumerate(columns):
        body.append(f"<text x='{left + (j + 0.5) * w:.1f}' y='14' font-size='10' "
                    f"text-anchor='middle'>{_esc(c)}</text>")
    for i, r in enumerate(rows):
        y = top_pad + i * h
        body.append(f"<text x='{left - 6}' y='{y + 13}' font-size='10' text-anchor='end'>"
                    f"{_esc(r)}</text>")
        for j, c in enumerate(columns):
            v = cell.get((r, c))
            if v is None:
                fill = "#f3f4f6"
            else:
                t = max(-1.0, min(1.0, v / scale))
                fill = (f"rgb({int(255 - 60 * t)},{int(255 - 120 * t)},{int(255 - 200 * t)})"
                        if t >= 0 else
                        f"rgb({int(255 + 200 * t)},{int(255 + 120 * t)},{int(255 + 40 * t)})")
            body.append(f"<rect x='{left + j * w:.1f}' y='{y}' width='{w - 1:.1f}' "
                        f"height='{h - 1}' fill='{fill}'><title>{_esc(r)} {_esc(c)}: "
                        f"{number(v)}</title></rect>")
            if v is not None and w >= 30:
                body.append(f"<text x='{left + (j + 0.5) * w:.1f}' y='{y + 12}' "
                            f"font-size='9' text-anchor='middle'>{number(v, 2)}</text>")
    return _svg(height, title, body)


def histograms(panels: list[dict[str, Any]], title: str) -> str:
    """Small histograms side by side: panels of {name, bins: [(from, count)], width}."""
    if not panels:
        return ""
    per_row, panel_w, panel_h = 3, (WIDTH - 20) / 3, 120
    n_rows = math.ceil(len(panels) / per_row)
    height = n_rows * (panel_h + 26) + 10
    lows = [b[0] for p in panels for b in p["bins"]]
    lo, hi = min(lows), max(lows) + panels[0]["width"]
    body = []
    for k, p in enumerate(panels):
        x0 = 10 + (k % per_row) * panel_w
        y0 = 16 + (k // per_row) * (panel_h + 26)
        top = max(c for _f, c in p["bins"]) or 1
        body.append(f"<text x='{x0}' y='{y0 - 4}' font-size='10'>{_esc(p['name'])}</text>")
        scale = (panel_w - 16) / (hi - lo)
        for start, count in p["bins"]:
            # heights on a log scale: the matches are few beside the non-matches
            bar = math.log1p(count) / math.log1p(top) * (panel_h - 14)
            body.append(f"<rect x='{x0 + (start - lo) * scale:.1f}' "
                        f"y='{y0 + panel_h - 14 - bar:.1f}' "
                        f"width='{max(p['width'] * scale - 1, 1):.1f}' height='{bar:.1f}' "
                        f"fill='{COLOURS[0]}'><title>{_esc(p['name'])}, weight {number(start)}"
                        f" to {number(start + p['width'])}: {number(count)} pairs</title>"
                        "</rect>")
        body.append(f"<text x='{x0}' y='{y0 + panel_h}' font-size='9'>{number(lo)}</text>"
                    f"<text x='{x0 + panel_w - 16}' y='{y0 + panel_h}' font-size='9' "
                    f"text-anchor='end'>{number(hi)} bits</text>")
    return _svg(height, title, body)
