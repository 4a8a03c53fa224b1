"""The one chart module: small server-side SVG charts for the web app and the public site.

No script, no chart library, nothing fetched: the browser receives finished markup, readable
without JavaScript and allowed by a strict Content-Security-Policy. Every text is escaped and
every chart is returned as `Markup`, so Flask's and Datasette's templates embed it as it is.
Colours are SVG attributes (not CSS), so a chart looks the same on any page; the class names
(`chart`, `lbl`, `num`, `note`, `track`, `done`) let a site's stylesheet refine it.

- `progress_bars`: done against a target per row (zones, teams, projects), with a note;
- `lines`: daily series (the trend), one line per series, with a legend;
- `stacked_bars`: one bar per row split into segments (households by status per zone);
- `columns`: one column per item (households per status).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

PALETTE = ("#0b6e4f", "#2f80ed", "#f2994a", "#9b51e0", "#eb5757", "#219653")
FONT = 'font-family="Noto Sans CJK SC, Microsoft YaHei, sans-serif"'
TRACK, DONE, OVER, TEXT, MUTED, GRID = "#e4e7eb", "#0b6e4f", "#2f80ed", "#333", "#616e7c", "#d9e2ec"


def _svg(width: int, height: int, body: list[str], title: str) -> Markup:
    return Markup(
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}" '
        f'{FONT} font-size="12" fill="{TEXT}"><title>{escape(title)}</title>'
        f'{"".join(body)}</svg>')


def _nice(top: float) -> float:
    """A round axis maximum at or above `top` (1, 2, 2.5, 5 times a power of ten)."""
    if top <= 0:
        return 1
    power = 10 ** (len(str(int(top))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= top:
            return step * power
    return 10 * power


def _text_width(text: str) -> int:
    """About how wide a label is at 12px: CJK characters count double."""
    return sum(13 if ord(c) > 0x2E80 else 7 for c in text)


def progress_bars(rows: Sequence[tuple], *, title: str = "", unit: str = "",
                  width: int = 720, bar: int = 20, label_width: int = 150) -> Markup:
    """Horizontal bars, one per row `(label, done, target or None[, note])`: done against its
    target (or against the largest value when there is none) with 'done / target (percent)',
    and the note (a deadline, an as-of date) at the right."""
    gap = 10
    height = max(len(rows), 1) * (bar + gap) + gap
    notes = any(len(r) > 3 and r[3] for r in rows)
    span = width - label_width - 150 - (110 if notes else 0)
    top = max([r[2] or 0 for r in rows] + [r[1] for r in rows] + [1])
    body = []
    for i, row in enumerate(rows):
        label, done, target = row[0], row[1], row[2]
        note = row[3] if len(row) > 3 else ""
        y = gap + i * (bar + gap)
        full = span * ((target or top) / top)
        filled = span * (min(done, target or top) / top)
        pct = f" ({100 * done / target:.0f}%)" if target else ""
        colour = DONE if not target or done >= target else OVER
        text = f"{done:g}{unit}" + (f" / {target:g}{unit}" if target else "") + pct
        body += [
            f'<text class="lbl" x="{label_width - 8}" y="{y + bar * 0.72:.1f}" '
            f'text-anchor="end">{escape(str(label))}</text>',
            f'<rect class="track" x="{label_width}" y="{y}" width="{full:.1f}" height="{bar}" '
            f'fill="{TRACK}"/>',
            f'<rect class="done" x="{label_width}" y="{y}" width="{filled:.1f}" height="{bar}" '
            f'fill="{colour}"><title>{escape(str(label))}: {escape(text)}</title></rect>',
            f'<text class="num" x="{label_width + full + 6:.1f}" y="{y + bar * 0.72:.1f}">'
            f'{escape(text)}</text>']
        if note:
            body.append(f'<text class="note" x="{width - 4}" y="{y + bar * 0.72:.1f}" '
                        f'text-anchor="end" fill="{MUTED}">{escape(str(note))}</text>')
    return _svg(width, height, body, title)


def lines(x_labels: Sequence[str],
          series: Mapping[str, Sequence[float]] | Sequence[tuple[str, Sequence[float], str]],
          *, title: str = "", width: int = 960, height: int = 260) -> Markup:
    """Lines over days: x_labels (e.g. ISO dates) and the series, either {name: values} (colours
    from the palette) or [(name, values, colour)]; one value per label. The legend shows each
    series' last value."""
    if isinstance(series, Mapping):
        series = [(name, values, PALETTE[j % len(PALETTE)])
                  for j, (name, values) in enumerate(series.items())]
    left, right, top_pad, bottom = 46, 16, 28, 36
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    top = _nice(max([max(v) for _, v, _ in series if v] + [1]))
    n = max(len(x_labels), 1)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top_pad + plot_h * (1 - v / top)

    body = []
    for k in range(5):  # horizontal grid with values
        v = top * k / 4
        body += [f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                 f'stroke="{GRID}"/>',
                 f'<text class="num" x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" '
                 f'fill="{MUTED}">{v:g}</text>']
    every = max(1, n // 8)
    for i, lab in enumerate(x_labels):
        # Every few days, and the last day unless it would overprint the one before.
        if (i % every == 0 and n - 1 - i >= every / 2) or i == n - 1:
            shown = str(lab)[5:] if len(str(lab)) == 10 else str(lab)
            body.append(f'<text class="lbl" x="{x(i):.1f}" y="{height - bottom + 16}" '
                        f'text-anchor="middle" fill="{MUTED}">{escape(shown)}</text>')
    legend_x = left
    for name, values, colour in series:
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        if points:
            body.append(f'<polyline points="{points}" fill="none" stroke="{colour}" '
                        f'stroke-width="2"><title>{escape(str(name))}</title></polyline>')
        legend = f"{name} {values[-1]:g}" if values else str(name)
        body += [f'<rect x="{legend_x}" y="8" width="12" height="12" fill="{colour}"/>',
                 f'<text class="legend" x="{legend_x + 16}" y="18">{escape(legend)}</text>']
        legend_x += 28 + _text_width(legend)
    return _svg(width, height, body, title)


def stacked_bars(rows: Sequence[tuple[str, Sequence[tuple[str, str, int]]]],
                 colours: Mapping[str, str], *, title: str = "", width: int = 720,
                 bar: int = 22, label_width: int = 130) -> Markup:
    """One horizontal bar per row `(label, [(code, segment label, count)])`, split into its
    segments (coloured by code), the row's total at its end, and a legend below."""
    gap = 8
    body, y = [], 0
    longest = max((sum(n for _, _, n in segs) for _, segs in rows), default=0) or 1
    span = width - label_width - 60
    for label, segs in rows:
        body.append(f'<text class="lbl" x="{label_width - 6}" y="{y + 15}" text-anchor="end">'
                    f"{escape(label)}</text>")
        x = label_width
        for code, seg_label, n in segs:
            if not n:
                continue
            w = span * n / longest
            body.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar}" '
                        f'fill="{colours.get(code, "#999")}"><title>{escape(label)} '
                        f"{escape(seg_label)}: {n}</title></rect>")
            x += w
        total = sum(n for _, _, n in segs)
        body.append(f'<text class="num" x="{x + 6:.1f}" y="{y + 15}">{total}</text>')
        y += bar + gap
    seen = list(dict.fromkeys((code, seg_label) for _, segs in rows for code, seg_label, _ in segs))
    lx = 0
    y += 6
    for code, seg_label in seen:
        body.append(f'<rect x="{lx}" y="{y}" width="12" height="12" '
                    f'fill="{colours.get(code, "#999")}"/>'
                    f'<text class="legend" x="{lx + 16}" y="{y + 11}">{escape(seg_label)}</text>')
        lx += 32 + _text_width(seg_label)
        if lx > width - 90:
            lx, y = 0, y + 20
    return _svg(width, y + 20, body, title)


def columns(items: Sequence[tuple[str, int, str]], *, title: str = "",
            width: int = 720) -> Markup:
    """A vertical column per item `(label, count, colour)`, the count above it."""
    height, base = 220, 180
    top = max((n for _, n, _ in items), default=0) or 1
    step = width / max(len(items), 1)
    body = []
    for i, (label, n, colour) in enumerate(items):
        h = (base - 24) * n / top
        x = i * step + step * 0.15
        w = step * 0.7
        body.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{w:.1f}" height="{h:.1f}" '
                    f'fill="{colour}"><title>{escape(label)}: {n}</title></rect>'
                    f'<text class="num" x="{x + w / 2:.1f}" y="{base - h - 5:.1f}" '
                    f'text-anchor="middle">{n}</text>'
                    f'<text class="lbl" x="{x + w / 2:.1f}" y="{base + 18}" '
                    f'text-anchor="middle">{escape(label)}</text>')
    return _svg(width, height, body, title)
