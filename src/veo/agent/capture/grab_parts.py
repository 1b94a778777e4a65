"""Which parts of the screen to grab for the rectangles X DAMAGE reported (:mod:`.x11`).

One request per rectangle costs a round trip; one band of every row from the top-most damage to
the bottom-most copied 27 MB per typed letter at 4K (a letter and the bench's pattern 1,700 rows
below it). So rectangles that overlap or nearly touch are joined into their bounding box, a wide
one is taken as whole rows (straight into place, no copy), and a narrow one as itself.
"""

from __future__ import annotations

from veo.agent.capture.base import Region
from veo.agent.damage import Rect

#: damaged row bands closer than this are grabbed and compared as one (a tile's height)
BAND_GAP = 64
#: a damaged rectangle at least this share of the width is grabbed as whole rows (straight into
#: place, no copy); a narrower one as itself (a third of its rows' pixels: the server copies less,
#: the compare reads less, for one copy into place)
ROWS_SHARE = 0.5


def clip_to_monitor(rect: Rect, monitor: dict[str, int]) -> Region | None:
    """``rect`` (root pixels) clipped to ``monitor``, in the monitor's pixels; ``None`` outside it."""
    left, top = int(monitor["left"]), int(monitor["top"])
    view = Region(left, top, int(monitor["width"]), int(monitor["height"]))
    inside = Region(rect.x, rect.y, rect.width, rect.height).clip(view)
    return None if inside is None else Region(inside.x - left, inside.y - top, inside.width, inside.height)


def grab_parts(regions: list[Region], width: int, gap: int = BAND_GAP) -> list[Region]:
    """What to grab for ``regions`` (damaged, in a picture ``width`` wide): rectangles that
    overlap or are less than ``gap`` apart joined into their bounding box; a part at least
    :data:`ROWS_SHARE` of the width taken as whole rows, and whole rows that overlap or are less
    than ``gap`` rows apart joined (see :func:`merge_bands`). A typed letter and a pattern far
    below it stay two small parts instead of one band of every row between them."""
    parts = [r for r in regions if r.width > 0 and r.height > 0]
    joined = True
    while joined:  # a join grows a box, which may then reach another one: until none does
        joined = False
        out: list[Region] = []
        for part in sorted(parts, key=lambda r: (r.y, r.x)):
            for i, box in enumerate(out):
                if _near(box, part, gap):
                    out[i] = _union(box, part)
                    joined = True
                    break
            else:
                out.append(part)
        parts = out
    wide = [(r.y, r.y + r.height) for r in parts if r.width >= width * ROWS_SHARE]
    rows = merge_bands(wide, gap)
    narrow = [r for r in parts if r.width < width * ROWS_SHARE and not _within_rows(r, rows)]
    return [Region(0, top, width, bottom - top) for top, bottom in rows] + narrow


def _near(a: Region, b: Region, gap: int) -> bool:
    """Whether ``a`` and ``b`` overlap or are less than ``gap`` pixels apart (both ways)."""
    return (
        a.x <= b.x + b.width + gap
        and b.x <= a.x + a.width + gap
        and a.y <= b.y + b.height + gap
        and b.y <= a.y + a.height + gap
    )


def _union(a: Region, b: Region) -> Region:
    x0, y0 = min(a.x, b.x), min(a.y, b.y)
    x1, y1 = max(a.x + a.width, b.x + b.width), max(a.y + a.height, b.y + b.height)
    return Region(x0, y0, x1 - x0, y1 - y0)


def _within_rows(region: Region, rows: list[tuple[int, int]]) -> bool:
    """Whether ``region`` lies inside one of the whole-row bands ``rows`` (grabbed with them)."""
    return any(top <= region.y and region.y + region.height <= bottom for top, bottom in rows)


def merge_bands(bands: list[tuple[int, int]], gap: int = BAND_GAP) -> list[tuple[int, int]]:
    """``bands`` sorted, with those that overlap or are less than ``gap`` rows apart joined: a
    few rows more to grab and compare cost less than another request and another compare."""
    merged: list[tuple[int, int]] = []
    for top, bottom in sorted(b for b in bands if b[1] > b[0]):
        if merged and top <= merged[-1][1] + gap:
            merged[-1] = (merged[-1][0], max(merged[-1][1], bottom))
        else:
            merged.append((top, bottom))
    return merged
