"""Reconnect delays: exponential backoff with full jitter, bounded on both sides."""

from __future__ import annotations

import random

from vigil.errors import ValidationError


class Backoff:
    """Delays for successive reconnect attempts of one camera.

    Attempt ``n`` (from 0) waits a uniformly random time in ``[base/2, min(cap, base * 2**n)]``.
    The exponential ceiling stops a dead camera from being hammered; the jitter keeps a thousand
    cameras behind one failed switch from reconnecting in lock-step when it comes back. The lower
    bound keeps a flapping camera from spinning. :meth:`reset` after a connection that delivered
    frames.

    Each camera gets its own instance and its own ``random.Random`` (seedable for tests), so no
    state is shared between workers.

    Example:
        >>> b = Backoff(0.5, 8.0, rng=random.Random(1))
        >>> all(0.25 <= b.next() <= 8.0 for _ in range(20))
        True
    """

    def __init__(self, base_s: float, cap_s: float, *, rng: random.Random | None = None) -> None:
        if not 0 < base_s <= cap_s:
            raise ValidationError(f"need 0 < base_s <= cap_s, got base {base_s}, cap {cap_s}")
        self.base = base_s
        self.cap = cap_s
        self.attempt = 0
        self._rng = rng or random.Random()

    def ceiling(self, attempt: int) -> float:
        """Upper bound of the delay for ``attempt`` (no jitter)."""
        # Clamp the exponent so huge attempt counts do not overflow a float.
        return min(self.cap, self.base * 2.0 ** min(attempt, 60))

    def next(self) -> float:
        """Delay before the next attempt; advances the attempt counter."""
        high = self.ceiling(self.attempt)
        self.attempt += 1
        return self._rng.uniform(min(self.base / 2, high), high)

    def reset(self) -> None:
        self.attempt = 0
