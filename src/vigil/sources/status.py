"""Camera health as the runtime reports it: state, since when, last error, counters."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from vigil.logs import redact
from vigil.sources.frames import utc_now


class CameraState(StrEnum):
    """``online``: frames flow; ``degraded``: frames flow with a problem (tamper signal, corrupt
    packets, key frames missing); ``offline``: no frames (connecting, reconnecting, ended)."""

    ONLINE = "online"
    DEGRADED = "degraded"
    OFFLINE = "offline"


class TamperSignal(StrEnum):
    FROZEN = "frozen"
    BLACK = "black"
    SCENE_CHANGE = "scene_change"


@dataclass(frozen=True, slots=True)
class TamperChange:
    """A tamper signal was raised or cleared on a camera: what becomes a tamper alert.

    The camera worker emits one ``raised`` per onset and one ``cleared`` when it ends (the
    detector's ``hold_s`` debounces both), so a flickering condition does not flood operators.
    ``onset_at`` is the capture time of the frame that raised the signal (equal to ``at`` for a
    ``raised`` change). :meth:`detail` is the stored and announced form (``key=value`` words, no
    pixels, no personal data); :meth:`parse_detail` reads it back.

    Attributes:
        reason: why a signal cleared: ``"recovered"`` (the condition ended) or ``"reset"`` (the
            detector restarted, e.g. on a resolution change, so the condition is unknown).
        position: the stream epoch and frame index of the frame that changed the signal, from
            which the alert's idempotency key is built (empty: no key, e.g. in tests).
    """

    camera_id: str
    signal: TamperSignal
    raised: bool
    at: datetime
    onset_at: datetime
    reason: str = "recovered"
    position: str = ""  # "<epoch>/<frame index>" of the frame that changed it (idempotency key)

    @property
    def phase(self) -> str:
        return "raised" if self.raised else "cleared"

    def detail(self, raised_alert_id: str | None = None) -> str:
        words = [f"signal={self.signal.value}", f"phase={self.phase}"]
        if not self.raised:
            lasted = (self.at - self.onset_at).total_seconds()
            words += [f"reason={self.reason}", f"lasted_s={lasted:.1f}"]
            if raised_alert_id:
                words.append(f"raised_alert={raised_alert_id}")
        return " ".join(words)

    @staticmethod
    def parse_detail(detail: str) -> dict[str, str]:
        """The ``key=value`` words of a tamper alert's detail (``{}`` for any other text)."""
        return dict(w.split("=", 1) for w in detail.split() if "=" in w)


@dataclass(frozen=True, slots=True)
class DecodeCost:
    """What decoding cost and what key-frame-only mode saved, for one camera.

    ``packets_skipped`` were never handed to the decoder; ``saved_fraction`` is their share of all
    video packets; ``decode_cpu_s`` is thread CPU time spent in decode and colour conversion.
    ``saved_cpu_s_estimate`` prices each skipped packet at the mean cost of a decoded one: an
    upper-ish estimate, since key frames cost more to decode than the P-frames skipped.
    """

    packets: int = 0
    packets_decoded: int = 0
    packets_skipped: int = 0
    frames_decoded: int = 0
    frames_sampled: int = 0
    corrupt_packets: int = 0
    decode_cpu_s: float = 0.0
    keyframe_mode: bool = False

    @property
    def saved_fraction(self) -> float:
        return self.packets_skipped / self.packets if self.packets else 0.0

    @property
    def saved_cpu_s_estimate(self) -> float:
        if not self.packets_decoded:
            return 0.0
        return self.decode_cpu_s / self.packets_decoded * self.packets_skipped


@dataclass(frozen=True, slots=True)
class CameraStatus:
    """A consistent snapshot of one camera's health (safe to hand to another thread or an API).

    ``tamper`` is the set of active tamper signals, ``tamper_since`` when each was raised
    (capture time), ``tamper_raised`` how many onsets this worker has seen (each one a tamper
    alert when an alert sink is attached).
    """

    camera_id: str
    state: CameraState
    since: datetime
    last_error: str | None
    last_error_at: datetime | None
    last_frame_at: datetime | None
    frames: int
    dropped: int
    reconnects: int
    resolution: tuple[int, int] | None
    resolution_changes: int
    tamper: frozenset[TamperSignal]
    decode: DecodeCost
    running: bool
    restarts: int = 0
    tamper_since: tuple[tuple[TamperSignal, datetime], ...] = ()
    tamper_raised: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)


class StatusTracker:
    """Thread-safe state machine of one camera's health; the worker writes, anyone reads.

    Error texts are redacted when recorded, so a URL with credentials inside an FFmpeg message
    never reaches the status (and thus never the API or CLI).
    """

    def __init__(self, camera_id: str, clock: Callable[[], datetime] = utc_now) -> None:
        self.camera_id = camera_id
        self._clock = clock
        self._lock = threading.Lock()
        self.state = CameraState.OFFLINE
        self.since = clock()
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None

    def set(self, state: CameraState, error: str | None = None) -> bool:
        """Move to ``state`` (recording ``error`` if given); returns whether the state changed."""
        with self._lock:
            now = self._clock()
            if error is not None:
                self.last_error = redact(error)
                self.last_error_at = now
            if state is self.state:
                return False
            self.state = state
            self.since = now
            return True

    def snapshot(self) -> tuple[CameraState, datetime, str | None, datetime | None]:
        with self._lock:
            return self.state, self.since, self.last_error, self.last_error_at
