"""Server-side SVG charts for the progress dashboard: no JavaScript, no chart library, nothing
fetched; the browser receives finished markup. Datasette loads this file as a hookless plugin."""

from __future__ import annotations

from markupsafe import Markup, escape

LABEL_W = 130
BAR_H = 22
GAP = 8
WIDTH = 720


def _svg(height: int, body: list[str], title: str) -> Markup:
    return Markup(
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet"><title>{escape(title)}</title>'
        + "".join(body) + "</svg>")


def stacked_bars(rows: list[tuple[str, list[tuple[str, str, int]]]], colours: dict[str, str],
                 title: str) -> Markup:
    """One horizontal bar per row (a zone), split into segments (statuses), with a legend."""
    body, y = [], 0
    longest = max((sum(n for _, _, n in segs) for _, segs in rows), default=0) or 1
    span = WIDTH - LABEL_W - 60
    for label, segs in rows:
        body.append(f'<text class="lbl" x="{LABEL_W - 6}" y="{y + 15}" text-anchor="end">'
                    f"{escape(label)}</text>")
        x = LABEL_W
        for code, seg_label, n in segs:
            if not n:
                continue
            w = span * n / longest
            body.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{BAR_H}" '
                        f'fill="{colours.get(code, "#999")}"><title>{escape(label)} '
                        f"{escape(seg_label)}: {n}</title></rect>")
            x += w
        total = sum(n for _, _, n in segs)
        body.append(f'<text class="num" x="{x + 6:.1f}" y="{y + 15}">{total}</text>')
        y += BAR_H + GAP
    seen = []
    for _, segs in rows:
        for code, seg_label, _n in segs:
            if (code, seg_label) not in seen:
                seen.append((code, seg_label))
    lx = 0
    y += 6
    for code, seg_label in seen:
        body.append(f'<rect x="{lx}" y="{y}" width="12" height="12" '
                    f'fill="{colours.get(code, "#999")}"/>'
                    f'<text class="legend" x="{lx + 16}" y="{y + 11}">{escape(seg_label)}</text>')
        lx += 22 + 14 * len(seg_label) + 10
        if lx > WIDTH - 90:
            lx, y = 0, y + 20
    return _svg(y + 20, body, title)


def progress_bars(rows: list[tuple[str, int, int, str]], title: str) -> Markup:
    """One bar per row: done out of target, with the percentage and a note (the deadline)."""
    body, y = [], 0
    span = WIDTH - LABEL_W - 190
    for label, done, target, note in rows:
        share = min(done / target, 1.0) if target else 0.0
        body.append(f'<text class="lbl" x="{LABEL_W - 6}" y="{y + 15}" text-anchor="end">'
                    f"{escape(label)}</text>"
                    f'<rect class="track" x="{LABEL_W}" y="{y}" width="{span}" '
                    f'height="{BAR_H}" rx="3"/>'
                    f'<rect class="done" x="{LABEL_W}" y="{y}" width="{span * share:.1f}" '
                    f'height="{BAR_H}" rx="3"><title>{escape(label)}: {done}/{target}</title>'
                    f"</rect>"
                    f'<text class="num" x="{LABEL_W + span + 8}" y="{y + 15}">'
                    f"{done}/{target} ({100 * share:.0f}%)</text>"
                    f'<text class="note" x="{WIDTH - 4}" y="{y + 15}" text-anchor="end">'
                    f"{escape(note)}</text>")
        y += BAR_H + GAP
    return _svg(max(y, BAR_H), body, title)


def columns(items: list[tuple[str, int, str]], title: str) -> Markup:
    """A vertical bar per item (a status), the count above it."""
    height, base = 220, 180
    top = max((n for _, n, _ in items), default=0) or 1
    step = WIDTH / max(len(items), 1)
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
    return _svg(height, body, title)


def lines(days: list[str], series: list[tuple[str, list[int], str]], title: str) -> Markup:
    """Cumulative counts over days: one line per series, dates along the bottom, a legend."""
    height, left, top, bottom = 240, 56, 10, 196
    span = WIDTH - left - 10
    peak = max((max(values, default=0) for _, values, _ in series), default=0) or 1
    n = max(len(days) - 1, 1)
    body = [f'<line class="axis" x1="{left}" y1="{bottom}" x2="{WIDTH - 10}" y2="{bottom}" '
            'stroke="#999"/>']
    for frac in (0, 0.5, 1):
        y = bottom - (bottom - top) * frac
        body.append(f'<text class="num" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
                    f"{round(peak * frac)}</text>"
                    f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - 10}" y2="{y:.1f}" '
                    'stroke="#e3e8ee"/>')
    for i in sorted({0, len(days) // 2, len(days) - 1}) if days else ():
        x = left + span * i / n
        anchor = "start" if i == 0 else "end" if i == len(days) - 1 else "middle"
        body.append(f'<text class="lbl" x="{x:.1f}" y="{bottom + 18}" text-anchor="{anchor}">'
                    f"{escape(days[i][5:])}</text>")
    for label, values, colour in series:
        points = " ".join(f"{left + span * i / n:.1f},{bottom - (bottom - top) * v / peak:.1f}"
                          for i, v in enumerate(values))
        body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2.5" '
                    f'points="{points}"><title>{escape(label)}</title></polyline>')
    x = left
    for label, values, colour in series:
        last = values[-1] if values else 0
        body.append(f'<rect x="{x}" y="{height - 14}" width="12" height="12" fill="{colour}"/>'
                    f'<text class="legend" x="{x + 16}" y="{height - 4}">{escape(label)} '
                    f"{last}</text>")
        x += 40 + 14 * len(label) + 8 * len(str(last))
    return _svg(height, body, title)
