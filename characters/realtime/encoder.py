"""Video encoding for the wire: RGB frames in, VP8 or H.264 packets out (aiortc packetizes them).

We encode ourselves instead of letting aiortc do it, for three reasons measured in
``../shared/FRAMEWORKS.md`` and ``bench/face.py``: the video track encodes each frame on a thread
of its own just before its send time (so send times match media times, and a frame dropped
before then never reaches the encoder); libvpx runs at ``cpu-used 16`` (4.5 ms per 1088×704
frame instead of 6.7 ms at aiortc's ``-6``); and H.264 uses x264's ``veryfast`` preset (about
7 ms instead of aiortc's ``medium`` at 28 ms, which does not fit one core at 25 fps).

Both encoders are constant-bitrate with no lag, one packet per frame; a keyframe is sent first,
when the receiver asks for one (PLI/FIR), and every ``keyframe_interval_s`` as a fallback.
"""

from __future__ import annotations

import fractions
from typing import Any, Literal

import av
import cv2
import numpy as np
import numpy.typing as npt

from characters.realtime.tracks import VIDEO_CLOCK

Codec = Literal["vp8", "h264"]
_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)


def to_yuv(image: npt.NDArray[np.uint8]) -> av.VideoFrame:
    """An RGB image as a yuv420p frame (BT.601, limited range: what decoders assume).

    OpenCV's I420 conversion uses the same BT.601 limited-range matrix as swscale (they differ
    by 0.13 levels on average) in a fifth of the time: 0.4 ms instead of 2.1 ms at 1088×704.
    """
    h, w = image.shape[:2]
    if h % 2 or w % 2:
        return av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
    yuv = np.asarray(cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2YUV_I420), np.uint8)
    return av.VideoFrame.from_ndarray(yuv, format="yuv420p")


class VideoEncoder:
    """One outgoing video stream's encoder (not thread-safe: one worker thread per call)."""

    def __init__(
        self,
        codec: Codec,
        width: int,
        height: int,
        *,
        fps: float,
        bitrate: int,
        keyframe_interval_s: float = 4.0,
    ) -> None:
        self.codec_name: Codec = codec
        if codec == "vp8":
            ctx = av.CodecContext.create("libvpx", "w")
            ctx.options = {
                "deadline": "realtime",
                "cpu-used": "16",
                "lag-in-frames": "0",
                "static-thresh": "1",
                "undershoot-pct": "100",
                "overshoot-pct": "15",
                "bufsize": str(bitrate),
                "minrate": str(bitrate),
                "maxrate": str(bitrate),
            }
            ctx.qmin, ctx.qmax = 4, 56
        else:
            ctx = av.CodecContext.create("libx264", "w")
            ctx.options = {
                "preset": "veryfast",
                "tune": "zerolatency",
                "profile": "baseline",
                "level": "31",
                "b-pyramid": "0",
                "bufsize": str(bitrate),
                "maxrate": str(bitrate),
            }
        ctx.width, ctx.height = width, height
        ctx.pix_fmt = "yuv420p"
        ctx.bit_rate = bitrate
        ctx.time_base = _TIME_BASE
        ctx.framerate = fractions.Fraction(fps).limit_denominator(1001)
        ctx.gop_size = 10_000  # keyframes only when asked for (or by the interval below)
        ctx.thread_count = 1
        self._ctx = ctx
        self._interval = round(keyframe_interval_s * VIDEO_CLOCK)
        self._last_key: int | None = None

    def close(self) -> None:
        """Free the codec now (with its threads), not when the garbage collector gets to it."""
        self._ctx = None  # type: ignore[assignment]

    def encode(
        self, frame: av.VideoFrame, pts: int, *, keyframe: bool = False
    ) -> av.Packet[Any] | None:
        """Encode a yuv420p frame shown at ``pts`` (90 kHz); None if the encoder held it back."""
        if self._last_key is None or pts - self._last_key >= self._interval:
            keyframe = True
        frame.pts = pts
        frame.time_base = _TIME_BASE
        frame.pict_type = (
            av.video.frame.PictureType.I if keyframe else av.video.frame.PictureType.NONE
        )
        packets = self._ctx.encode(frame)
        if keyframe:
            self._last_key = pts
        if not packets:
            return None
        data = b"".join(bytes(p) for p in packets)
        packet = av.Packet(data)
        packet.pts = pts
        packet.dts = pts
        packet.time_base = _TIME_BASE
        return packet
