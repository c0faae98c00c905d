"""Video files, RTSP and HTTP MJPEG read and decoded with PyAV (FFmpeg).

Sampling happens here, next to the decoder, because that is where decode work can be saved: in
key-frame mode packets that are not key frames are never handed to the decoder at all (cheaper
than ``skip_frame="NONKEY"``, which still parses every packet), and in full mode only the sampled
frames pay for the colour conversion to BGR.

What a key frame costs bounds what key-frame mode can save. Measured on vtest.avi re-encoded to
H.264 25 fps with a 1 s GOP (``python -m bench.bench_ingest keyframes``): an I-frame costs 5-8
average frames to decode (it carries ~20x the bits of a P-frame and CABAC decoding is paid per
bit), so decoding 1 frame in 25 costs about 0.25-0.3 of decoding all of them. Two measured
savings are used: non-key packets never reach the decoder (``skip_frame="NONKEY"`` measured the
same CPU, as it still hands every packet over), and in forced ``keyframes`` mode the in-loop
deblocking filter is skipped (``keyframe_skip_loop_filter``, 5-15% of key-frame decode CPU; no
frame references a key frame in that mode, so the only cost is slight blocking at low bitrates).
Decoder threading does not change CPU time (one thread per camera is used to bound thread
count), demuxing is ~0.5% of full decoding, and converting only sampled frames to BGR costs ~7%.

Key-frame mode trades temporal resolution for CPU: a camera with a 1 s GOP yields at most one
analysed frame per second in that mode. ``decode_mode="auto"`` therefore switches to it only while
the measured key-frame interval is no longer than the sampling interval, and switches back when the
camera's GOP grows; switches take effect at a key frame, so the decoder never sees a P-frame
without its reference.
"""

from __future__ import annotations

import itertools
import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Generator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import av.error

from vigil.core.keys import file_epoch, live_epoch
from vigil.errors import InputError, SourceError
from vigil.logs import redact
from vigil.sources import hwdecode
from vigil.sources.base import DecodeCounters, PacketTee, SourceSpec
from vigil.sources.frames import RawFrame, Sampler

log = logging.getLogger(__name__)

# A stream whose packets fail to decode this many times in a row is treated as broken.
MAX_CONSECUTIVE_CORRUPT = 50
_AV_ERRORS = (av.error.FFmpegError, OSError, EOFError)


class GopEstimator:
    """Median interval between recent key frames, in media seconds (``None`` until known)."""

    def __init__(self, window: int = 8) -> None:
        self._keys: deque[float] = deque(maxlen=window)

    def observe(self, media_time: float) -> None:
        if self._keys and media_time <= self._keys[-1]:
            self._keys.clear()  # clock went back (loop, reconnect): start over
        self._keys.append(media_time)

    @property
    def interval(self) -> float | None:
        if len(self._keys) < 2:
            return None
        keys = list(self._keys)
        return statistics.median(b - a for a, b in itertools.pairwise(keys))


class AVSource:
    """One camera's stream through PyAV: connect, demux, decode what is needed, sample.

    Args:
        spec: what to read and how (see :class:`SourceSpec`).
        decoder_threads: FFmpeg decoder threads per camera. One keeps hundreds of cameras from
            spawning thousands of threads (and their stacks); raise it for a few 4K streams.
        tee: receives every demuxed packet before any decode decision (the recorder); ``None``
            records nothing.
    """

    def __init__(
        self, spec: SourceSpec, *, decoder_threads: int = 1, tee: PacketTee | None = None
    ) -> None:
        self.spec = spec
        self.tee = tee
        self.counters = DecodeCounters()
        self.decoder_threads = decoder_threads
        self.gop = GopEstimator()
        self._sampler = Sampler(spec.fps)
        self._segment = 0
        self._last_corrupt = False
        self._epoch = ""

    # -- opening -----------------------------------------------------------------------------

    def _open(self) -> Any:
        spec = self.spec
        options: dict[str, str] = {}
        fmt: str | None = None
        stall_us = str(int(spec.stall_timeout_s * 1e6))
        if spec.kind == "file":
            path = Path(spec.url.removeprefix("file://"))
            if not path.is_file():
                raise InputError(f"camera {spec.camera_id}: video file {path} does not exist")
        elif spec.kind == "rtsp":
            options = {"rtsp_transport": spec.transport, "timeout": stall_us}
        elif spec.kind == "mjpeg":
            fmt = "mpjpeg"
            options = {"timeout": stall_us, "reconnect": "0"}
        target = spec.url.removeprefix("file://") if spec.kind == "file" else spec.url
        accel = hwdecode.hwaccel()  # None unless runtime.device cuda found CUDA decoding
        try:
            container = av.open(
                target,
                format=fmt,
                options=options,
                timeout=(spec.connect_timeout_s, spec.stall_timeout_s),
                **({"hwaccel": accel} if accel is not None else {}),
            )
        except _AV_ERRORS as exc:
            what = f"camera {spec.camera_id}: cannot open {spec.safe_url}: {redact(str(exc))}"
            if spec.kind == "file":
                raise InputError(what, hint="is it a video file FFmpeg can read?") from None
            raise SourceError(what) from None
        if not container.streams.video:
            container.close()
            raise InputError(f"camera {spec.camera_id}: {spec.safe_url} has no video stream")
        return container

    def _epoch_of(self, loop: int) -> str:
        """The stream epoch (see :mod:`vigil.core.keys`): a file pass is reproducible, a live
        connection is new each time it opens."""
        if self.spec.kind == "file":
            return file_epoch(self.spec.url.removeprefix("file://"), loop)
        return live_epoch(datetime.now(UTC))

    # -- reading -----------------------------------------------------------------------------

    def frames(self, stop: threading.Event) -> Iterator[RawFrame]:
        """Open the stream and yield sampled frames (see :class:`~vigil.sources.base.Source`)."""
        self._segment += 1
        self._sampler.reset()
        container = self._open()
        self._epoch = self._epoch_of(0)
        try:
            stream = container.streams.video[0]
            cc = stream.codec_context
            cc.thread_count = self.decoder_threads
            if self.spec.decode_mode == "keyframes" and self.spec.keyframe_skip_loop_filter:
                # Codec options only take effect when PyAV opens the decoder at the first
                # packet, so this is fixed per connection: that is why ``auto`` (which may switch
                # to full decoding mid-stream, where P-frames need deblocked references) never
                # uses it.
                cc.options = {"skip_loop_filter": "all"}
            if self.tee is not None:
                self.tee.open(stream)
            yield from self._passes(container, stream, stop)
        finally:
            if self.tee is not None:
                self.tee.close()
            container.close()

    def _passes(self, container: Any, stream: Any, stop: threading.Event) -> Iterator[RawFrame]:
        """Demux the whole stream once, or repeatedly when looping a file."""
        offset = 0.0
        loop = 0
        rate = float(stream.average_rate or 25)
        while True:
            last = yield from self._demux(container, stream, stop, offset)
            if stop.is_set() or not (self.spec.loop and self.spec.kind == "file"):
                return
            if last is None:
                raise SourceError(f"camera {self.spec.camera_id}: file has no decodable frames")
            offset = last + 1.0 / rate
            loop += 1
            if self.tee is not None:
                self.tee.discontinuity()
            self._epoch = self._epoch_of(loop)
            try:
                container.seek(0)
            except _AV_ERRORS as exc:
                raise SourceError(f"camera {self.spec.camera_id}: cannot loop: {exc}") from None
            stream.codec_context.flush_buffers()
            log.debug("camera %s: looping file", self.spec.camera_id)

    def _use_keyframes(self) -> bool:
        mode = self.spec.decode_mode
        if mode != "auto":
            return mode == "keyframes"
        gop = self.gop.interval
        return gop is not None and gop <= self._sampler.interval * 1.05

    def _next_packet(self, packets: Iterator[Any]) -> Any:
        """The next packet, ``None`` at the end; read failures become :class:`SourceError`."""
        try:
            return next(packets)
        except StopIteration:
            return None
        except _AV_ERRORS as exc:
            if self.spec.kind == "file" and isinstance(exc, av.error.EOFError):
                return None
            raise SourceError(
                f"camera {self.spec.camera_id}: stream read failed: {redact(str(exc))}"
            ) from None

    def _demux(
        self, container: Any, stream: Any, stop: threading.Event, offset: float
    ) -> Generator[RawFrame, None, float | None]:
        """One pass over the packets; returns the last media time seen (``None``: none)."""
        counters, spec = self.counters, self.spec
        # MJPEG over HTTP has no clock: FFmpeg invents PTS at an assumed 25 fps, which would
        # make sampling follow a fiction. Use the wall clock for it instead.
        tb = float(stream.time_base) if stream.time_base and spec.kind != "mjpeg" else 0.0
        opened = time.monotonic()
        pace = spec.kind == "file" and spec.realtime
        pace0: tuple[float, float] | None = None
        use_keys = seen_key = False
        corrupt_run = 0
        last: float | None = None
        packets = container.demux(stream)
        while not stop.is_set():
            packet = self._next_packet(packets)
            if packet is None:
                break
            if packet.size == 0:
                continue
            media = packet.pts * tb + offset if packet.pts is not None and tb else None
            last = media if media is not None else last
            key = bool(packet.is_keyframe)
            if self.tee is not None:  # every packet, before any decode decision
                self.tee.packet(packet, media, key)
            if key:
                seen_key = True
                if media is not None:
                    self.gop.observe(media)
                use_keys = counters.keyframe_mode = self._use_keyframes()
            skip = not seen_key or (use_keys and not key)
            with counters._lock:
                counters.packets += 1
                counters.packets_skipped += int(skip)
            if skip:
                continue
            if pace and media is not None:
                pace0 = pace0 or (time.monotonic(), media)
                delay = pace0[0] + (media - pace0[1]) - time.monotonic()
                if delay > 0 and stop.wait(delay):
                    break
            clock = media if media is not None else time.monotonic() - opened
            out = self._decode(packet, clock, tb, offset)
            if self._last_corrupt:
                corrupt_run += 1
                if corrupt_run >= MAX_CONSECUTIVE_CORRUPT:
                    raise SourceError(
                        f"camera {spec.camera_id}: {corrupt_run} undecodable packets in a row"
                    )
                continue
            corrupt_run = 0
            for image, frame_time in out:
                yield RawFrame(image, frame_time, key, self._segment, self._epoch)
        if not stop.is_set() and not use_keys:
            # End of the stream: a decoder with B-frames still holds the last few frames
            # (decoding is ahead of display by the reorder depth); drain them, or a file's
            # tail - and every loop of it - would lose them.
            for image, media in self._drain(stream, tb, offset):
                yield RawFrame(image, media, False, self._segment, self._epoch)
        return last

    def _drain(self, stream: Any, tb: float, offset: float) -> list[tuple[Any, float | None]]:
        """Frames still buffered in the decoder at the end of the stream, sampled as usual."""
        t0 = time.thread_time()
        try:
            frames = stream.codec_context.decode(None)
        except _AV_ERRORS as exc:
            log.debug("camera %s: draining the decoder failed: %s", self.spec.camera_id, exc)
            return []
        out = []
        for frame in frames:
            media = frame.pts * tb + offset if frame.pts is not None and tb else None
            if media is not None and self._sampler.due(media):
                out.append((frame.to_ndarray(format="bgr24"), media))
        with self.counters._lock:
            self.counters.frames_decoded += len(frames)
            self.counters.frames_sampled += len(out)
            self.counters.decode_cpu_s += time.thread_time() - t0
        return out

    def _decode(
        self, packet: Any, clock: float, tb: float, offset: float
    ) -> list[tuple[Any, float | None]]:
        """Decode one packet; return the sampled frames' BGR images and media times.

        Sampling follows each decoded frame's own PTS (display order: with B-frames, packets
        arrive in decode order, and sampling on the packet's time would skip frames); ``clock``
        (the packet's time, or the wall clock) stands in for frames without a PTS.
        """
        counters = self.counters
        self._last_corrupt = False
        t0 = time.thread_time()
        out: list[tuple[Any, float | None]] = []
        try:
            decoded = packet.decode()
        except _AV_ERRORS as exc:
            self._last_corrupt = True
            decoded = []
            log.debug("camera %s: corrupt packet: %s", self.spec.camera_id, exc)
        for frame in decoded:
            media = frame.pts * tb + offset if frame.pts is not None and tb else None
            if self._sampler.due(media if media is not None else clock):
                out.append((frame.to_ndarray(format="bgr24"), media))
        spent = time.thread_time() - t0
        with counters._lock:
            counters.packets_decoded += 1
            counters.frames_decoded += len(decoded)
            counters.corrupt_packets += int(self._last_corrupt)
            counters.frames_sampled += len(out)
            counters.decode_cpu_s += spent
        return out
