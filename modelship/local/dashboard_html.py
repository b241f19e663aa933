"""An evaluated dashboard (modelship.local.dashboard) as one self-contained HTML page: an
inline SVG line chart per metric widget, alarm states with their changes, text widgets.

No script, stylesheet or font is fetched; the page reloads itself every few seconds (meta
refresh). Every value shown, names and labels included, is HTML-escaped. Alarm state
changes in the window are drawn on every chart as vertical lines (red: into ALARM, green:
back to OK), so a canary's rollback lines up with its series.
"""

from __future__ import annotations

import re
from datetime import datetime
from html import escape
from typing import Any

REFRESH_SECONDS = 5
CHART_WIDTH, CHART_HEIGHT, MARGIN = 460, 180, 40
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
STATE_COLORS = {"ALARM": "#d62728", "OK": "#2ca02c", "INSUFFICIENT_DATA": "#7f7f7f"}
_STYLE = """
body{font-family:sans-serif;margin:1em;background:#fafafa;color:#222}
.grid{display:flex;flex-wrap:wrap;gap:12px}
.widget{background:#fff;border:1px solid #ddd;padding:8px;box-sizing:border-box}
.widget h2{font-size:14px;margin:0 0 6px}
.legend span{display:inline-block;margin-right:10px;font-size:12px}
.problem{color:#a00;font-size:12px}
table{border-collapse:collapse;font-size:12px}td,th{padding:2px 6px;text-align:left}
.state{color:#fff;padding:1px 4px;border-radius:3px}
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _page(title: str, body: str, refresh: bool) -> str:
    meta = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' if refresh else ""
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">{meta}'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def render_index(names: list[str]) -> str:
    items = "".join(f'<li><a href="{_e(name)}">{_e(name)}</a></li>' for name in names)
    listed = f"<ul>{items}</ul>" if names else "<p>No dashboards deployed.</p>"
    return _page("modelship dashboards", f"<h1>modelship dashboards</h1>{listed}", refresh=False)


def render_dashboard(evaluated: dict[str, Any]) -> str:
    window = evaluated["window"]
    widgets = evaluated["widgets"]
    markers = [
        (datetime.fromisoformat(change["at"]), change["state"], alarm["name"])
        for widget in widgets
        if widget["type"] == "alarm"
        for alarm in widget["alarms"]
        for change in alarm.get("changes", [])
    ]
    start, end = (datetime.fromisoformat(window[k]) for k in ("start", "end"))
    rendered = []
    for widget in widgets:
        if widget["type"] == "metric":
            inner = _chart(widget, start, end, markers)
        elif widget["type"] == "alarm":
            inner = _alarms(widget)
        elif widget["type"] == "text":
            inner = _markdown(widget.get("markdown", ""))
        else:
            inner = ""
        problems = "".join(f'<p class="problem">{_e(p)}</p>' for p in widget.get("problems", []))
        width = max(20, min(100, round(widget.get("width", 6) / 24 * 100) - 1))
        title = f"<h2>{_e(widget['title'])}</h2>" if widget.get("title") else ""
        rendered.append(
            f'<div class="widget" style="width:{width}%">{title}{inner}{problems}</div>'
        )
    header = (
        f"<h1>{_e(evaluated['dashboard'])}</h1><p>{_e(start.isoformat())} to "
        f"{_e(end.isoformat())} ({_e(window['minutes'])} minutes; time scale "
        f"{_e(window['time_scale'])}); refreshes every {REFRESH_SECONDS} s; "
        f'<a href="./">all dashboards</a></p>'
    )
    return _page(
        evaluated["dashboard"], header + f'<div class="grid">{"".join(rendered)}</div>', True
    )


def _chart(
    widget: dict[str, Any],
    start: datetime,
    end: datetime,
    markers: list[tuple[datetime, str, str]],
) -> str:
    series = [*widget.get("series", []), *widget.get("right", [])]
    values = [v for s in series for v in s["values"]]
    values += [a["value"] for a in widget.get("annotations", [])]
    low, high = float(min([0.0, *values])), float(max([1.0, *values]))
    high = high if high > low else low + 1
    span = max((end - start).total_seconds(), 1.0)
    plot_w, plot_h = CHART_WIDTH - 2 * MARGIN, CHART_HEIGHT - MARGIN

    def x(moment: datetime) -> float:
        return MARGIN + (moment - start).total_seconds() / span * plot_w

    def y(value: float) -> float:
        return MARGIN // 2 + plot_h - (value - low) / (high - low) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{CHART_HEIGHT}" '
        f'role="img" aria-label="{_e(widget["title"])}">',
        f'<rect x="{MARGIN}" y="{MARGIN // 2}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#ccc"/>',
        f'<text x="2" y="{y(high) + 4:.1f}" font-size="10">{_e(_number(high))}</text>',
        f'<text x="2" y="{y(low):.1f}" font-size="10">{_e(_number(low))}</text>',
    ]
    for moment, state, name in markers:
        if start <= moment <= end:
            color = STATE_COLORS.get(state, "#7f7f7f")
            parts.append(
                f'<line x1="{x(moment):.1f}" x2="{x(moment):.1f}" y1="{MARGIN // 2}" '
                f'y2="{MARGIN // 2 + plot_h}" stroke="{color}" stroke-width="1">'
                f"<title>{_e(name)} {_e(state)} {_e(moment.isoformat())}</title></line>"
            )
    for annotation in widget.get("annotations", []):
        level = y(annotation["value"])
        parts.append(
            f'<line x1="{MARGIN}" x2="{MARGIN + plot_w}" y1="{level:.1f}" y2="{level:.1f}" '
            f'stroke="#d62728" stroke-dasharray="4 3"/><text x="{MARGIN + 2}" '
            f'y="{level - 2:.1f}" font-size="10" fill="#d62728">{_e(annotation["label"])}</text>'
        )
    legend = []
    for number, one in enumerate(series):
        color = COLORS[number % len(COLORS)]
        points = [
            (x(datetime.fromisoformat(t)), y(v))
            for t, v in zip(one["timestamps"], one["values"], strict=True)
        ]
        if len(points) == 1:
            (px, py) = points[0]
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{color}"/>')
        elif points:
            drawn = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(
                f'<polyline points="{drawn}" fill="none" stroke="{color}" stroke-width="1.5"/>'
            )
        total = _number(sum(one["values"])) if one["values"] else "no data"
        legend.append(
            f'<span style="color:{color}">&#9632; {_e(one["label"])} ({_e(total)})</span>'
        )
    parts.append("</svg>")
    if not series:
        legend.append("<span>no data in this window</span>")
    period = f"<span>period {_e(widget['period'])} s, {_e(widget['stat'])}</span>"
    return "".join(parts) + f'<div class="legend">{"".join(legend)}{period}</div>'


def _alarms(widget: dict[str, Any]) -> str:
    rows = []
    for alarm in widget.get("alarms", []):
        state = alarm.get("state", "")
        color = STATE_COLORS.get(state, "#7f7f7f")
        changes = ", ".join(
            f"{_e(change['state'])} at {_e(change['at'][11:19])}"
            for change in alarm.get("changes", [])
        )
        rows.append(
            f'<tr><td><span class="state" style="background:{color}">{_e(state)}</span></td>'
            f"<td>{_e(alarm.get('name', ''))}</td><td>{_e(alarm.get('since', '')[11:19])}</td>"
            f"<td>{changes or 'no change in this window'}</td></tr>"
        )
    header = "<tr><th>state</th><th>alarm</th><th>since</th><th>changes in the window</th></tr>"
    return f"<table>{header}{''.join(rows)}</table>"


def _markdown(text: str) -> str:
    """The little markdown the dashboards' text widgets use: headings, bold, code."""
    blocks = []
    for line in text.splitlines():
        if not line.strip():
            continue
        heading = re.match(r"(#{1,6})\s+(.*)", line)
        content = _e(heading[2] if heading else line)
        content = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", content)
        content = re.sub(r"`(.+?)`", r"<code>\1</code>", content)
        tag = f"h{min(len(heading[1]) + 2, 6)}" if heading else "p"
        blocks.append(f"<{tag}>{content}</{tag}>")
    return "".join(blocks)


def _number(value: float) -> str:
    return f"{value:.4g}"
