"""Server-rendered SVG charts (no script, no external asset: the CSP allows neither), with a text
equivalent beside each one for screen readers and print."""

from __future__ import annotations

from markupsafe import Markup, escape

COLOURS = {"high": "#d4351c", "medium": "#f47738", "low": "#1d70b8", "bar": "#00703c", "rest": "#b1b4b6"}


def stacked_bars(title: str, labels: list[str], series: dict[str, list[int]], *, width: int = 640,
                 height: int = 220) -> Markup:
    """One bar per label, stacked by series (e.g. severity), y axis from 0 to the largest total."""
    n = max(1, len(labels))
    top = max([sum(vals) for vals in zip(*series.values(), strict=True)] or [0]) or 1
    left, bottom, plot_h = 36, 36, height - 56
    slot = (width - left - 10) / n
    bar = max(4.0, slot * 0.7)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 6}" y2="{height - bottom}" stroke="#0b0c0c"/>',
             f'<text x="{left - 6}" y="{height - bottom - plot_h + 4}" text-anchor="end" font-size="11">{top}</text>',
             f'<text x="{left - 6}" y="{height - bottom}" text-anchor="end" font-size="11">0</text>']
    for i, label in enumerate(labels):
        x = left + i * slot + (slot - bar) / 2
        y = height - bottom
        for name, values in series.items():
            h = plot_h * values[i] / top
            if h:
                y -= h
                parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                             f'fill="{COLOURS.get(name, COLOURS["bar"])}"><title>{escape(label)}: {values[i]} '
                             f'{escape(name)}</title></rect>')
        if n <= 16 or i % 2 == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 14}" text-anchor="middle" '
                         f'font-size="10">{escape(label)}</text>')
    legend_x = left
    for name in series:
        parts.append(f'<rect x="{legend_x}" y="{height - 14}" width="10" height="10" '
                     f'fill="{COLOURS.get(name, COLOURS["bar"])}"/><text x="{legend_x + 14}" y="{height - 5}" '
                     f'font-size="11">{escape(name)}</text>')
        legend_x += 90
    parts.append("</svg>")
    return Markup("".join(parts))


def progress_bars(title: str, rows: list[tuple[str, float | None]], *, width: int = 640) -> Markup:
    """A horizontal 0–100 % bar per row (acknowledgement by org unit)."""
    height = 24 * max(1, len(rows)) + 8
    label_w = 200
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for i, (label, pct) in enumerate(rows):
        y = 4 + i * 24
        value = pct or 0.0
        w = (width - label_w - 60) * value / 100
        parts.append(f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end" font-size="12">{escape(label[:32])}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{width - label_w - 60}" height="16" fill="#f3f2f1"/>'
                     f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="16" fill="{COLOURS["bar"]}"/>'
                     f'<text x="{width - 52}" y="{y + 13}" font-size="12">'
                     f'{"—" if pct is None else f"{value:.0f}%"}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
