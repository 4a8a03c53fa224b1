"""Tiny server-side SVG charts: no script, no external file, readable without JavaScript.

`progress_bars` draws horizontal bars of done against a target (zones, teams, cadres);
`line_chart` draws daily series (the trend). Both return an SVG string safe to embed in HTML:
every text is escaped. The publication's progress dashboard may reuse them.
"""

from __future__ import annotations

from html import escape

PALETTE = ("#0b6e4f", "#2f80ed", "#f2994a", "#9b51e0", "#eb5757", "#219653")
FONT = 'font-family="Noto Sans CJK SC, Microsoft YaHei, sans-serif"'


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}" '
            f'{FONT} font-size="12"><title>{escape(title)}</title>{"".join(body)}</svg>')


def _nice(top: float) -> float:
    """A round axis maximum at or above `top` (1, 2, 2.5, 5 times a power of ten)."""
    if top <= 0:
        return 1
    power = 10 ** (len(str(int(top))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= top:
            return step * power
    return 10 * power


def progress_bars(rows: list[tuple[str, float, float | None]], *, title: str = "",
                  width: int = 640, bar: int = 18, label_width: int = 150,
                  unit: str = "") -> str:
    """Horizontal bars: (label, done, target or None). A bar shows done against its target
    (or against the largest value when there is no target), with 'done / target (percent)'."""
    gap = 10
    height = max(len(rows), 1) * (bar + gap) + gap
    span = width - label_width - 150
    top = max([t or 0 for _, _, t in rows] + [d for _, d, _ in rows] + [1])
    body = []
    for i, (label, done, target) in enumerate(rows):
        y = gap + i * (bar + gap)
        full = span * ((target or top) / top)
        filled = span * (min(done, target or top) / top)
        pct = f" ({100 * done / target:.0f}%)" if target else ""
        colour = PALETTE[0] if not target or done >= target else PALETTE[1]
        text = f"{done:g}{unit}" + (f" / {target:g}{unit}" if target else "") + pct
        body += [
            f'<text x="{label_width - 8}" y="{y + bar * 0.72:.1f}" text-anchor="end">'
            f'{escape(str(label))}</text>',
            f'<rect x="{label_width}" y="{y}" width="{full:.1f}" height="{bar}" fill="#e4e7eb"/>',
            f'<rect x="{label_width}" y="{y}" width="{filled:.1f}" height="{bar}" '
            f'fill="{colour}"/>',
            f'<text x="{label_width + full + 6:.1f}" y="{y + bar * 0.72:.1f}">'
            f'{escape(text)}</text>']
    return _svg(width, height, body, title)


def line_chart(x_labels: list[str], series: dict[str, list[float]], *, title: str = "",
               width: int = 960, height: int = 260) -> str:
    """Lines over days: x_labels (e.g. dates) and {series name: values, one per label}."""
    left, right, top_pad, bottom = 46, 16, 28, 36
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    top = _nice(max([max(v) for v in series.values() if v] + [1]))
    n = max(len(x_labels), 1)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top_pad + plot_h * (1 - v / top)

    body = []
    for k in range(5):  # horizontal grid with values
        v = top * k / 4
        body += [f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                 'stroke="#d9e2ec"/>',
                 f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" fill="#616e7c">'
                 f'{v:g}</text>']
    every = max(1, n // 8)
    for i, lab in enumerate(x_labels):
        # Every few days, and the last day unless it would overprint the one before.
        if (i % every == 0 and n - 1 - i >= every / 2) or i == n - 1:
            body.append(f'<text x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                        f'fill="#616e7c">{escape(str(lab)[5:] if len(str(lab)) == 10 else lab)}'
                        '</text>')
    legend_x = left
    for j, (name, values) in enumerate(series.items()):
        colour = PALETTE[j % len(PALETTE)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        if points:
            body.append(f'<polyline points="{points}" fill="none" stroke="{colour}" '
                        'stroke-width="2"/>')
        body += [f'<rect x="{legend_x}" y="8" width="12" height="12" fill="{colour}"/>',
                 f'<text x="{legend_x + 16}" y="18">{escape(str(name))}</text>']
        legend_x += 28 + 13 * len(str(name))
    return _svg(width, height, body, title)
