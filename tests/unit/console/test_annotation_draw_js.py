"""shared/annotation-draw.js: which messages a board accepts, its bounds, hit tests and the fade."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RunJs = Callable[..., Any]  # the run_js fixture of conftest.py

BOARD = """
const m = await mod("../shared/annotation-draw.js");
let t = 0;
const board = new m.AnnotationBoard({ now: () => t });
"""


def test_rejects_bad_messages_and_keeps_good_ones(run_js: RunJs) -> None:
    got = run_js(
        BOARD
        + """
return data.map((msg) => board.apply(msg)).concat([board.size]);
""",
        [
            {"type": "annotate", "id": "a1", "tool": "free", "points": [[1, 2], [3, 4]]},
            {"type": "annotate", "id": "bad id!", "tool": "free", "points": [[1, 2]]},
            {"type": "annotate", "id": "a2", "tool": "spray", "points": [[1, 2]]},
            {"type": "annotate", "id": "a3", "tool": "rect", "points": [[1.5, 2]]},
            {"type": "annotate", "id": "a4", "tool": "rect", "points": [[-1, 2]]},
            {"type": "annotate", "id": "a5", "tool": "rect", "points": [[1, 2]], "color": "red"},
            {"type": "annotate", "id": "a6", "tool": "arrow", "points": [[1, 2]], "width": 99},
            {"type": "annotate", "id": "a7", "tool": "arrow", "points": []},
            {"type": "annotate_erase", "id": "../x"},
        ],
    )
    assert got == [True, False, False, False, False, False, False, False, False, 1]


def test_fade_schedule_hold_then_linear_and_laser_sooner(run_js: RunJs) -> None:
    got = run_js(
        BOARD
        + """
board.apply({ type: "annotate", id: "s", tool: "free", points: [[0, 0], [10, 10]], done: true });
board.apply({ type: "annotate", id: "l", tool: "laser", points: [[0, 0], [10, 10]], done: true });
board.apply({ type: "annotate", id: "open", tool: "arrow", points: [[0, 0], [10, 10]] });
const at = (ms) => { t = ms; const s = board.strokes;
  return ["s", "l", "open"].map((id) => s.has(id) ? Math.round(board.opacity(s.get(id)) * 100) : null); };
const out = [at(0), at(500), at(3999), at(4500)];
board.prune(); out.push(at(5000)); board.prune(); out.push([board.size]);
return out;
""",
    )
    assert got[0] == [100, 100, 100]
    assert got[1] == [100, 67, 100]  # the laser fades after 250 ms, over 750 ms
    assert got[2] == [100, None, 100] or got[2] == [100, 0, 100]
    assert got[3] == [50, None, 100] or got[3] == [50, 0, 100]
    assert got[4][0] == 0
    assert got[5] == [1]  # only the unfinished stroke is left (stale after 10 s)


def test_bounded_erase_and_hit_test(run_js: RunJs) -> None:
    got = run_js(
        BOARD
        + """
for (let i = 0; i < 100; i += 1) {
  board.apply({ type: "annotate", id: `k${i}`, tool: "free", points: [[i, 0], [i, 50]] });
}
const size = board.size;
const oldest = board.strokes.keys().next().value;
board.clear();
board.apply({ type: "annotate", id: "r", tool: "rect", points: [[100, 100], [200, 150]], width: 4 });
board.apply({ type: "annotate", id: "a", tool: "arrow", points: [[0, 300], [100, 300]] });
const probes = [[150, 101], [150, 125], [50, 302], [199, 149]];
const hits = probes.map(([x, y]) => board.hitTest(x, y));
board.apply({ type: "annotate_erase", id: "a" });
const after = [...board.strokes.keys()];
board.apply({ type: "annotate_erase", id: "" });
return { size, oldest, hits, after, end: board.size };
""",
    )
    assert got["size"] == 64
    assert got["oldest"] == "k36"
    assert got["hits"] == ["r", None, "a", "r"]
    assert got["after"] == ["r"]
    assert got["end"] == 0
