"""Charts drawn on the server as inline SVG: no chart library, no script, readable without colour."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
ROW = 30
LABEL_WIDTH = 240
VALUE_WIDTH = 170
MAX_LABEL = 26  # characters before a label is shortened (the full label stays in the bar's tooltip)
_ids = itertools.count()


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its value (on the chart's scale) and the text printed beside it."""

    label: str
    value: float
    text: str
    tone: str = "primary"  # a CSS class suffix: primary, good, bad, muted


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def bar_chart(title: str, bars: Sequence[Bar], scale: float | None = None) -> Markup:
    """Horizontal bars, one per row, the longest (or `scale`) filling the plot; an empty chart says so."""
    chart_id = f"chart-{next(_ids)}"
    if not bars:
        return Markup('<p class="empty">{}: nothing to show yet.</p>').format(title)
    top = scale if scale and scale > 0 else max((b.value for b in bars), default=0.0)
    plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    height = ROW * len(bars) + 8
    rows = []
    for i, bar in enumerate(bars):
        y = 4 + i * ROW
        width = 0.0 if top <= 0 else max(0.0, min(1.0, bar.value / top)) * plot
        rows.append(
            Markup(
                '<g class="bar bar-{tone}"><title>{label}: {text}</title>'
                '<text class="label" x="{lx}" y="{ty}" text-anchor="end">{short}</text>'
                '<rect class="track" x="{x}" y="{y}" width="{plot}" height="{h}" rx="3"></rect>'
                '<rect class="fill" x="{x}" y="{y}" width="{w:.1f}" height="{h}" rx="3"></rect>'
                '<text class="value" x="{vx}" y="{ty}">{text}</text></g>'
            ).format(
                tone=escape(bar.tone),
                label=bar.label,
                short=_short(bar.label),
                text=bar.text,
                lx=LABEL_WIDTH - 8,
                ty=y + ROW * 0.62,
                x=LABEL_WIDTH,
                y=y + 4,
                plot=plot,
                w=width,
                h=ROW - 10,
                vx=LABEL_WIDTH + plot + 8,
            )
        )
    return Markup(
        '<figure class="chart"><figcaption id="{id}">{title}</figcaption>'
        '<svg viewBox="0 0 {w} {h}" width="100%" role="img" aria-labelledby="{id}" '
        'preserveAspectRatio="xMinYMin meet">{rows}</svg></figure>'
    ).format(id=chart_id, title=title, w=WIDTH, h=height, rows=Markup("").join(rows))


def probability_meter(probability: float | None, label: str) -> Markup:
    """A team's win probability as a bar from 0 to 100 %, with the number printed on it."""
    if probability is None:
        return Markup('<p class="muted">{}: no calibrated probability for this model.</p>').format(label)
    share = max(0.0, min(1.0, probability))
    return Markup(
        '<svg class="meter" viewBox="0 0 300 22" width="100%" role="img" aria-label="{label}: {pct}">'
        '<rect class="track" x="0" y="2" width="300" height="18" rx="4"></rect>'
        '<rect class="fill" x="0" y="2" width="{w:.1f}" height="18" rx="4"></rect>'
        '<text x="6" y="16">{pct}</text></svg>'
    ).format(label=label, pct=percent(share), w=300 * share)


def compact(value: float) -> str:
    """250000 → '250 k', 83202177 → '83.2 M': short enough to print beside a bar."""
    for size, unit in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value:.0f}"


def percent(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f} %"
