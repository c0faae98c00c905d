#!/usr/bin/python3
"""A real RTSP camera for tests: GStreamer's RTSP server streaming a video file as H.264.

Runs under Debian's ``/usr/bin/python3`` (the ``gi`` bindings belong to that interpreter, not to
the project's virtualenv). Prints ``READY <port>`` on stdout once it listens, then serves until
killed — killing it is the test's "camera went away". Each client gets its own pipeline, reading
the file from the start; ``--loop`` restarts the file at its end so a stream never ends on its own.

    /usr/bin/python3 tests/support/rtsp_server.py --file vtest.avi --port 8554 --gop 10
"""

from __future__ import annotations

import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def launch_line(path: str, gop: int, fps: int | None) -> str:
    rate = f"! videorate ! video/x-raw,framerate={fps}/1 " if fps else ""
    return (
        f"( filesrc location={path} ! decodebin ! videoconvert {rate}"
        f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} "
        "! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--file", required=True)
    parser.add_argument("--port", type=int, default=8554)
    parser.add_argument("--mount", default="/cam")
    parser.add_argument("--gop", type=int, default=10, help="key-int-max of the encoder")
    parser.add_argument("--fps", type=int, default=None, help="re-time the video to this rate")
    args = parser.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_line(args.file, args.gop, args.fps))
    factory.set_shared(False)
    server.get_mount_points().add_factory(args.mount, factory)
    if server.attach(None) == 0:
        print(f"FAILED to bind port {args.port}", flush=True)
        sys.exit(1)
    print(f"READY {args.port}", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
