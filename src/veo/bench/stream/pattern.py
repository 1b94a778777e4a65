"""The timestamp pattern: 16 bits of the wall clock in milliseconds drawn as blocks on the screen.

The workload draws it in the bottom-left corner each time it changes the content; the probe in
the browser decodes it from each frame it shows and subtracts it from its own ``Date.now()``.
Both run on the same machine, so both read the same clock: the difference is glass-to-glass
latency (modulo 65.536 s, far above any latency worth measuring).

Four check bits (the XOR of the value's four nibbles) follow the 16 value bits, so a frame caught
half-way through a redraw, or smeared by the encoder, is rejected instead of yielding a wild
figure. The decoder also rejects blocks that are neither clearly dark nor clearly light.
"""

from __future__ import annotations

from dataclasses import dataclass

VALUE_BITS = 16
CHECK_BITS = 4
BLOCKS = VALUE_BITS + CHECK_BITS
BLOCK = 20  # pixels at 1080p and below; big enough to survive a low-bitrate encoder
MARGIN = 8
DARK_BELOW = 80
LIGHT_ABOVE = 175
MODULUS = 1 << VALUE_BITS


def ui_scale(width: int, height: int) -> float:
    """The desktop scaling a person uses on a screen this size, in quarter steps: 1 up to 1080p,
    1.25 at 2560×1440, 2 at 3840×2160 (what desktops propose there). The workload draws its
    content and the pattern at this scale, so a big screen shows the same desk at a finer pixel,
    and the pattern's blocks stay decodable when the agent scales the picture down to a console."""
    return max(1.0, round(min(width / 1920, height / 1080) * 4) / 4)


@dataclass(frozen=True)
class Layout:
    """Where the pattern sits on a screen of ``width`` × ``height`` (root window pixels).

    Bottom-left: the agent's session bar sits at the top centre and its dialogs are centred.
    Blocks and margin grow with :func:`ui_scale` (20 px blocks up to 1080p, 40 px at 4K).
    """

    width: int
    height: int

    @property
    def size(self) -> int:
        """One block's side in pixels."""
        return round(BLOCK * ui_scale(self.width, self.height))

    @property
    def margin(self) -> int:
        return round(MARGIN * ui_scale(self.width, self.height))

    @property
    def x(self) -> int:
        return self.margin

    @property
    def y(self) -> int:
        return self.height - self.margin - self.size

    @property
    def keys_y(self) -> int:
        """The key row's top (the drop scenario): the same blocks, one row above the timestamp,
        showing the keys the workload received instead of the time."""
        return self.y - self.size - self.margin

    @property
    def span(self) -> tuple[int, int, int, int]:
        """The pattern's rectangle: x, y, width, height."""
        return self.x, self.y, BLOCKS * self.size, self.size

    def block(self, index: int) -> tuple[int, int, int, int]:
        return self.x + index * self.size, self.y, self.size, self.size


def check(value: int) -> int:
    """The 4 check bits of a 16-bit value: XOR of its nibbles."""
    return (value ^ (value >> 4) ^ (value >> 8) ^ (value >> 12)) & 0xF


def stamp(now_seconds: float) -> int:
    """The 16-bit value drawn for wall-clock time ``now_seconds`` (``time.time()``)."""
    return int(now_seconds * 1000) % MODULUS


def encode(value: int) -> list[bool]:
    """Block colours left to right, True = light: the value MSB first, then its check bits."""
    if not 0 <= value < MODULUS:
        raise ValueError(f"{value} does not fit in {VALUE_BITS} bits")
    word = (value << CHECK_BITS) | check(value)
    return [bool((word >> (BLOCKS - 1 - i)) & 1) for i in range(BLOCKS)]


def classify(luma: float) -> bool | None:
    """A block's brightness as a bit, or None when it is neither clearly dark nor light."""
    if luma < DARK_BELOW:
        return False
    if luma > LIGHT_ABOVE:
        return True
    return None


def decode(lumas: list[float]) -> int | None:
    """The value shown by ``BLOCKS`` block brightnesses (0-255), or None if it is not a clean one."""
    if len(lumas) != BLOCKS:
        return None
    word = 0
    for luma in lumas:
        bit = classify(luma)
        if bit is None:
            return None
        word = (word << 1) | int(bit)
    value = word >> CHECK_BITS
    return value if check(value) == word & 0xF else None


def latency_ms(now_ms: int, value: int) -> int:
    """Milliseconds from the drawing of ``value`` to ``now_ms`` (both the same wall clock)."""
    return (now_ms - value) % MODULUS
