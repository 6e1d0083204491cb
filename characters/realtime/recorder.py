"""A call's recording: the character's video with both sides' audio mixed, written as it happens.

While the call runs the file is a fragmented MP4 (H.264 + AAC, a fragment about every second),
so it plays up to the last fragment even when the server dies mid-call. :meth:`Recorder.close`
rewrites it as a plain MP4 with its index first (``faststart``): browsers know a fragmented
file's length only as they read it, and cannot seek into the part they have not read.
Everything is placed on the call's media clock: the character's frames and voice at their media
times, the user's microphone at the media time it arrived. Audio is mixed in a short window
(``mix_delay_s``) behind the live edge, so late microphone packets still land in place.

Encoding runs on the recorder's own thread (x264 ``ultrafast``, about 3 ms per 1088×704 frame):
the call never waits for it. If that thread falls behind, video frames are skipped, never audio.
"""

from __future__ import annotations

import logging
import queue
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import numpy as np
import numpy.typing as npt

from characters.pcm import Int16, to_int16
from characters.realtime.tracks import AUDIO_RATE, VIDEO_CLOCK

log = logging.getLogger(__name__)

AAC_FRAME = 1024
_STOP = object()


class Recorder:
    """Records one call to ``path`` (see the module docstring). Use from the event loop."""

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        *,
        mix_delay_s: float = 0.5,
        max_backlog: int = 50,
    ) -> None:
        self.path = path
        self._mix_delay = int(mix_delay_s * AUDIO_RATE)
        self._mix = np.zeros(0, np.float32)
        self._mix_start = 0
        """Sample position of ``_mix[0]``; everything before it was handed to the encoder."""
        self._jobs: queue.Queue[object] = queue.Queue()
        self._max_backlog = max_backlog
        self.skipped_frames = 0
        self.frames = 0
        self.error: str | None = None
        path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(
            str(path),
            mode="w",
            format="mp4",
            options={
                "movflags": "frag_keyframe+empty_moov+default_base_moof",
                "frag_duration": "1000000",
            },
        )
        video = self._container.add_stream(
            "libx264",
            rate=25,
            options={"preset": "ultrafast", "tune": "zerolatency", "crf": "26", "g": "50"},
        )
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.time_base = Fraction(1, VIDEO_CLOCK)
        video.codec_context.colorspace = video.codec_context.color_primaries = 6
        video.codec_context.color_trc, video.codec_context.color_range = 6, 1
        audio = self._container.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        audio.bit_rate = 64_000
        self._video, self._audio = video, audio
        self._last_pts = -1
        self._thread = threading.Thread(target=self._work, name="recorder", daemon=True)
        self._thread.start()

    # -- from the call ------------------------------------------------------------------------

    def video(self, frame: av.VideoFrame, time_s: float) -> None:
        """The character's frame shown at media time ``time_s`` (a yuv420p frame)."""
        if self._jobs.qsize() > self._max_backlog:
            self.skipped_frames += 1
            return
        self._jobs.put(("video", frame, round(time_s * VIDEO_CLOCK)))

    def voice(self, pcm: Int16, position: int) -> None:
        """The character's audio (48 kHz) starting at sample ``position`` of the media clock."""
        self._add(pcm, position)

    def microphone(self, pcm: Int16, time_s: float) -> None:
        """The user's audio (48 kHz mono) that arrived at media time ``time_s`` (its end)."""
        self._add(pcm, max(0, round(time_s * AUDIO_RATE) - len(pcm)))

    def advance(self, time_s: float) -> None:
        """Hand the mixed audio older than ``time_s - mix_delay_s`` to the encoder."""
        upto = round(time_s * AUDIO_RATE) - self._mix_delay
        self._flush_mix(upto)

    def close(self) -> None:
        """Finish the file (blocks until the encoder is done, then rewrites the file as a plain
        MP4; call it off the event loop)."""
        self._flush_mix(self._mix_start + len(self._mix))
        self._jobs.put(_STOP)
        self._thread.join(timeout=30)
        if not self._thread.is_alive():
            rewrite(self.path, check=self.error is not None)

    # -- mixing -------------------------------------------------------------------------------

    def _add(self, pcm: Int16, position: int) -> None:
        if position < self._mix_start:  # older than what was already encoded
            cut = self._mix_start - position
            if cut >= len(pcm):
                return
            pcm, position = pcm[cut:], self._mix_start
        end = position - self._mix_start + len(pcm)
        if end > len(self._mix):
            self._mix = np.concatenate([self._mix, np.zeros(end - len(self._mix), np.float32)])
        offset = position - self._mix_start
        self._mix[offset:end] += pcm.astype(np.float32) / 32768.0

    def _flush_mix(self, upto: int) -> None:
        count = (upto - self._mix_start) // AAC_FRAME * AAC_FRAME
        if count <= 0:
            return
        if count > len(self._mix):
            self._mix = np.concatenate([self._mix, np.zeros(count - len(self._mix), np.float32)])
        out, self._mix = self._mix[:count], self._mix[count:]
        self._jobs.put(("audio", to_int16(np.clip(out, -1.0, 1.0)), self._mix_start))
        self._mix_start += count

    # -- the encoding thread ------------------------------------------------------------------

    def _work(self) -> None:
        try:
            while (job := self._jobs.get()) is not _STOP:
                kind, data, at = cast(tuple[str, Any, int], job)
                if kind == "video":
                    self._encode_video(data, at)
                else:
                    self._encode_audio(data, at)
            self._container.mux(self._video.encode(None))
            self._container.mux(self._audio.encode(None))
        except Exception as e:  # a full disk must not end the call; the log says why
            self.error = str(e)
            log.exception("recording %s failed", self.path)
        finally:
            try:
                self._container.close()
            except Exception:
                log.exception("closing recording %s failed", self.path)
            # The encoders' threads end when their contexts are freed: now, not whenever the
            # garbage collector gets to a finished call.
            del self._video, self._audio, self._container

    def _encode_video(self, frame: av.VideoFrame, pts: int) -> None:
        if pts <= self._last_pts:
            return
        self._last_pts = pts
        frame.pts = pts
        frame.time_base = Fraction(1, VIDEO_CLOCK)
        frame.pict_type = av.video.frame.PictureType.NONE
        self._container.mux(self._video.encode(frame))
        self.frames += 1

    def _encode_audio(self, pcm: npt.NDArray[np.int16], position: int) -> None:
        for start in range(0, len(pcm), AAC_FRAME):
            part = pcm[start : start + AAC_FRAME]
            frame = av.AudioFrame.from_ndarray(part.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = AUDIO_RATE
            frame.pts = position + start
            frame.time_base = Fraction(1, AUDIO_RATE)
            self._container.mux(self._audio.encode(frame))


def salvage(path: Path) -> bool:
    """Rewrite a recording cut short by a crash into a clean MP4 (the packets that can be read);
    False if nothing could be read (the file is removed)."""
    return rewrite(path, check=True)


def rewrite(path: Path, *, check: bool = False) -> bool:
    """Copy a recording's packets as they are (no re-encoding) into a plain MP4 with its index at
    the front, in place. ``check``: decode each packet on the way and stop at the first that
    fails (a file torn by a crash may end in garbage a player chokes on). False if nothing
    could be read (the file is removed)."""
    if not path.exists():
        return False
    tmp = path.with_name(f".{path.name}.rewrite")
    packets = 0
    try:
        with (
            av.open(str(path)) as source,
            av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out,
        ):
            streams = {s.index: out.add_stream_from_template(s) for s in source.streams}
            try:
                for packet in source.demux():
                    if packet.dts is None or packet.size == 0:
                        continue
                    if check:
                        packet.decode()
                    packet.stream = streams[packet.stream.index]
                    out.mux(packet)
                    packets += 1
            except (av.FFmpegError, EOFError) as e:  # the torn end of the file
                log.info("recording %s ends in a torn fragment (%s)", path, e)
    except (av.FFmpegError, OSError) as e:
        log.warning("recording %s cannot be read (%s)", path, e)
    if packets == 0:
        tmp.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        return False
    tmp.replace(path)
    return True
