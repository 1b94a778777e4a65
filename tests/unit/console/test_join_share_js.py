"""static/join: the browser share's commitment (as the console checks it) and its preview overlay."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from typing import Any

RunJs = Callable[..., Any]  # the run_js fixture of conftest.py


def test_commitment_is_sha256_of_the_nonce_and_the_console_accepts_it(run_js: RunJs) -> None:
    nonce = secrets.token_bytes(32).hex()
    got = run_js(
        """
const offerer = await mod("../join/offerer.js");
const sas = await mod("sas.js");
const c = await offerer.commitmentOf(data.nonce);
return {c, ok: await sas.checkCommitment(data.nonce, c), wrong: await sas.checkCommitment(data.other, c)};
""",
        {"nonce": nonce, "other": secrets.token_bytes(32).hex()},
    )
    assert got["c"] == hashlib.sha256(bytes.fromhex(nonce)).hexdigest()
    assert got["ok"] is True and got["wrong"] is False


def test_contain_box_letterboxes_like_the_preview(run_js: RunJs) -> None:
    got = run_js(
        """
const { containBox } = await mod("../join/overlay.js");
return [containBox(1000, 500, 1920, 1080), containBox(400, 400, 800, 400), containBox(0, 10, 10, 10),
        containBox(10, 10, 0, 0)];
""",
    )
    wide, tall, empty_box, no_video = got
    assert abs(wide["scale"] - 500 / 1080) < 1e-9 and wide["top"] == 0
    assert abs(wide["left"] - (1000 - 1920 * 500 / 1080) / 2) < 1e-9
    assert tall == {"left": 0, "top": 100, "scale": 0.5}
    assert empty_box is None and no_video is None


def test_overlay_takes_only_valid_pointer_and_annotation_messages(run_js: RunJs) -> None:
    got = run_js(
        """
globalThis.requestAnimationFrame = () => 1;
const { PreviewOverlay } = await mod("../join/overlay.js");
const overlay = new PreviewOverlay({ videoWidth: 0, videoHeight: 0 }, {});
return data.map((m) => overlay.apply(m)).concat([overlay.board.size, overlay.pointer !== null]);
""",
        [
            {"type": "tech_pointer", "x": 10, "y": 20},
            {"type": "tech_pointer", "x": -1, "y": 20},
            {"type": "tech_pointer", "x": 1.5, "y": 20},
            {"type": "tech_pointer", "x": "3", "y": 20},
            {"type": "annotate", "id": "a1", "tool": "rect", "points": [[1, 2], [30, 40]], "done": True},
            {"type": "annotate", "id": "bad id", "tool": "rect", "points": [[1, 2]]},
            {"type": "pointer_move", "x": 1, "y": 2},
        ],
    )
    assert got == [True, False, False, False, True, False, False, 1, True]
