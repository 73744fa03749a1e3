"""Server-side SVG charts: no script, no network, readable without colour (legend + per-bar titles)."""
from datetime import date

from markupsafe import Markup, escape

# Stacking order (bottom first) and colours of the status groups.
SERIES = (
    ("delivered", "Delivered", "#2e7d32"),
    ("sent", "Sent", "#81c784"),
    ("pending", "Pending", "#f9a825"),
    ("failed", "Failed", "#c62828"),
    ("cancelled", "Cancelled", "#9e9e9e"),
    ("incoming", "Incoming", "#1565c0"),
)


def _nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 × 10^n at or above ``value`` (for round axis labels)."""
    if value <= 0:
        return 1
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def stacked_daily_chart(days: list[date], series: dict[str, list[int]], width: int = 760, height: int = 260) -> Markup:
    left, right, top, bottom = 44, 8, 10, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(series.get(key, [0] * len(days))[i] for key, _, _ in SERIES) for i in range(len(days))]
    peak = _nice_ceiling(max(totals, default=0))
    slot = plot_w / max(1, len(days))
    bar_w = max(2.0, slot * 0.72)
    summary = ", ".join(f"{label}: {sum(series.get(key, []))}" for key, label, _ in SERIES)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart-title chart-desc" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">',
        f'<title id="chart-title">Messages per day, last {len(days)} days</title>',
        f'<desc id="chart-desc">Totals over the period: {escape(summary)}.</desc>',
    ]
    for i in range(5):  # horizontal grid lines with their values
        value = peak * i / 4
        y = top + plot_h - plot_h * i / 4
        label = f"{value:g}" if value < 10_000 else f"{value / 1000:g}k"
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{label}</text>')
    for i, day in enumerate(days):
        x = left + slot * i + (slot - bar_w) / 2
        y = top + plot_h
        tooltip = f"{day.isoformat()}: " + ", ".join(
            f"{label} {series.get(key, [0] * len(days))[i]}" for key, label, _ in SERIES)
        parts.append(f'<g><title>{escape(tooltip)}</title>')
        for key, _, colour in SERIES:
            count = series.get(key, [0] * len(days))[i]
            if count:
                h = plot_h * count / peak
                y -= h
                parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colour}"/>')
        if not totals[i]:
            parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - 1:.1f}" width="{bar_w:.1f}" height="1" class="empty"/>')
        parts.append("</g>")
        if i % 5 == 0 or i == len(days) - 1:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle" class="axis">'
                         f'{day.strftime("%d %b")}</text>')
    legend_x = left
    for _key, label, colour in SERIES:
        parts.append(f'<rect x="{legend_x}" y="{height - 16}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{legend_x + 14}" y="{height - 7}" class="legend">{label}</text>')
        legend_x += 24 + 7 * len(label)
    parts.append("</svg>")
    return Markup("".join(parts))
