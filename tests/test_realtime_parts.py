"""The parts of a live call, each on its own: the media clock and buffers, captions, the events
messages, the offer check, PCM resampling, the encoders, the recorder and the stage."""

from __future__ import annotations

import asyncio
import functools
import io
from pathlib import Path

import av
import numpy as np
import pytest

from characters.errors import InvalidInput
from characters.face.generator import AudioChunk, FaceVideoGenerator
from characters.pcm import StreamResampler, resample, to_int16
from characters.realtime import events
from characters.realtime.captions import Captions
from characters.realtime.encoder import VideoEncoder, to_yuv
from characters.realtime.recorder import Recorder, salvage
from characters.realtime.stage import AvatarStage
from characters.realtime.tracks import AudioBuffer, AvatarVideoTrack, MediaClock, VideoFrameIn
from characters.realtime.webrtc import read_offer

pytestmark = pytest.mark.timeout(60)


# -- the outgoing audio buffer ----------------------------------------------------------------


def test_audio_is_read_where_it_was_written_and_silence_elsewhere() -> None:
    buf = AudioBuffer()
    buf.write(np.full(1000, 7, np.int16), voiced=True)
    buf.write(np.full(1000, 9, np.int16), voiced=False)
    first = buf.read(960)
    assert (first == 7).all() and buf.playing
    second = buf.read(960)
    assert (second[:40] == 7).all() and (second[40:] == 9).all() and not buf.playing
    third = buf.read(960)  # past what was written: silence, counted as an underrun
    assert (third[:80] == 9).all() and (third[80:] == 0).all()
    assert buf.underrun_samples == 880


def test_audio_written_too_late_is_dropped_and_barge_in_silences_what_is_queued() -> None:
    buf = AudioBuffer()
    buf.write(np.ones(100, np.int16), voiced=False)
    buf.read(960)
    buf.write(np.full(2000, 5, np.int16), voiced=True)  # 860 of it is late
    assert buf.late_samples == 860
    assert (buf.read(960)[:100] == 5).all()
    buf.silence_after(buf.read_pos + 100)
    out = buf.read(960)
    assert (out[:100] == 5).all() and (out[100:] == 0).all()
    assert not buf.playing


def test_rewinding_rewrites_what_has_not_been_read() -> None:
    buf = AudioBuffer()
    buf.write(np.zeros(4000, np.int16), voiced=False)
    buf.read(960)
    buf.rewind(1920)
    assert buf.write_pos == 1920
    buf.write(np.full(960, 3, np.int16), voiced=True)
    assert (buf.read(960) == 0).all() and (buf.read(960) == 3).all()


async def test_the_video_track_sends_each_frame_at_its_time() -> None:
    clock = MediaClock()
    clock.start()
    track = AvatarVideoTrack(clock)
    track.use(VideoEncoder("vp8", 544, 352, fps=25, bitrate=500_000))
    for k in range(3):
        track.put(VideoFrameIn(to_yuv(_image(k)), 0.05 * (k + 1)))
    assert track.drop_after(0.1) == 1
    sent = []
    for _ in range(2):
        await track.recv()
        sent.append(clock.now())
    assert 0.045 <= sent[0] < 0.09 and 0.095 <= sent[1] < 0.14
    track.stop()


def _mean_error(decoded: list[av.VideoFrame], images: list[np.ndarray]) -> float:
    return max(
        float(np.abs(f.to_ndarray(format="rgb24").astype(int) - img).mean())
        for f, img in zip(decoded, images, strict=True)
    )


async def test_frames_dropped_before_their_time_never_reach_the_encoder() -> None:
    """A barge-in or an answer starting drops frames drawn ahead; had they been encoded, the
    frames after them would be decoded against references the client never got."""
    clock = MediaClock()
    clock.start()
    track = AvatarVideoTrack(clock)
    track.use(VideoEncoder("vp8", 544, 352, fps=25, bitrate=2_000_000))
    images = [_image(k * 7) for k in range(8)]
    for k in range(4):
        track.put(VideoFrameIn(to_yuv(images[k]), 0.04 * (k + 1)))
    packets = [await track.recv()]
    assert track.drop_after(0.05) == 3  # frames 1-3, drawn ahead, are gone
    for k in range(4, 8):
        track.put(VideoFrameIn(to_yuv(images[k]), 0.04 * (k + 1)))
    packets += [await track.recv() for _ in range(4)]
    track.stop()
    decoder = av.CodecContext.create("libvpx", "r")
    decoded = [f for p in packets for f in decoder.decode(p)]  # type: ignore[arg-type]
    shown = [images[0], *images[4:]]
    assert len(decoded) == 5 and _mean_error(decoded, shown) < 4
    # The test can tell: encoding every frame and sending the same five breaks the picture.
    encoder = VideoEncoder("vp8", 544, 352, fps=25, bitrate=2_000_000)
    every = [encoder.encode(to_yuv(img), k * 3600) for k, img in enumerate(images)]
    broken = av.CodecContext.create("libvpx", "r")
    wrong = [f for p in [every[0], *every[4:]] for f in broken.decode(p)]  # type: ignore[arg-type]
    assert _mean_error(wrong, shown) > 4 * _mean_error(decoded, shown)


# -- captions -------------------------------------------------------------------------------


def test_captions_release_words_as_their_audio_plays() -> None:
    captions = Captions()
    captions.add(1, "Hello there friend.", 0, 1000)
    captions.add(1, "", 1000, 1000)  # the same piece goes on: its words spread over 2000
    assert captions.advance(0) == [(1, "Hello")]
    words = captions.advance(900)
    assert words == [(1, "there")]
    assert [captions.say(t, w) for t, w in [(1, "Hello"), *words]] == ["Hello", " there"]
    assert captions.text(1) == "Hello there"
    captions.drop()
    assert captions.advance(10_000) == [] and captions.text(1) == "Hello there"


# -- events ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"type": "END_CALL"}', events.EndCall()),
        ('{"type": "user_message", "text": "  Hi  "}', events.UserMessage("Hi")),
        ('{"type": "user_message", "text": ""}', None),
        ('{"type": "user_message"}', None),
        ('{"type": "dance"}', None),
        ("[1]", None),
        ("not json", None),
        ('{"type": "END_CALL", "pad": "' + "x" * 20_000 + '"}', None),
    ],
)
def test_client_messages(raw: str, expected: object) -> None:
    assert events.parse(raw) == expected


def test_server_messages_are_compact_json() -> None:
    assert events.encode(events.assistant_words(2, " hi")) == (
        '{"type":"transcription","role":"assistant","turn":2,"text":" hi"}'
    )


# -- the offer ------------------------------------------------------------------------------


@functools.cache
def real_offer() -> str:
    from characters.realtime.client import CallClient

    async def make() -> str:
        client = CallClient("http://unused", "unused")
        sdp = await client.make_offer()
        await client.close()
        return sdp

    return asyncio.run(make())


def test_a_browser_like_offer_is_accepted() -> None:
    offer = read_offer(real_offer().encode(), "application/sdp; charset=utf-8")
    assert offer.video_codecs == ("vp8", "h264") and offer.data_channel


@pytest.mark.parametrize(
    ("mutate", "content_type", "words"),
    [
        (lambda s: s, "text/plain", "application/sdp"),
        (lambda s: "hello", "application/sdp", "not an SDP offer"),
        (lambda s: s.replace("a=sendrecv", "a=recvonly", 1), "application/sdp", "'recvonly'"),
        (lambda s: s.replace("opus", "speex"), "application/sdp", "Opus"),
        (
            lambda s: s.replace("VP8", "VP9").replace("H264", "AV1X"),
            "application/sdp",
            "VP8 nor H.264",
        ),
        (lambda s: s + "a" * 70_000, "application/sdp", "larger than"),
    ],
)
def test_bad_offers_say_what_is_wrong(mutate: object, content_type: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        read_offer(mutate(real_offer()).encode(), content_type)  # type: ignore[operator]


# -- PCM ------------------------------------------------------------------------------------


def test_resampling_piece_by_piece_matches_the_whole() -> None:
    t = np.arange(22_050) / 22_050
    pcm = to_int16(0.5 * np.sin(2 * np.pi * 440 * t))
    whole = resample(pcm, 22_050, 48_000)
    stream = StreamResampler(48_000, np.int16)
    pieces = [stream(pcm[i : i + 441], 22_050) for i in range(0, len(pcm), 441)]
    joined = np.concatenate([*pieces, stream.flush()])
    assert abs(len(joined) - 48_000) <= 2 and len(joined) == len(whole)
    assert np.abs(joined.astype(int) - whole.astype(int)).max() <= 2


# -- encoding and recording -----------------------------------------------------------------


def _image(k: int) -> np.ndarray:
    img = np.full((352, 544, 3), 90, np.uint8)
    img[:, (k * 9) % 544 :] = 200
    return img


@pytest.mark.parametrize("codec", ["vp8", "h264"])
def test_encoders_start_with_a_keyframe_and_give_one_packet_per_frame(codec: str) -> None:
    encoder = VideoEncoder(codec, 544, 352, fps=25, bitrate=500_000)  # type: ignore[arg-type]
    packets = [encoder.encode(to_yuv(_image(k)), k * 3600) for k in range(10)]
    assert all(p is not None for p in packets)
    decoder = av.CodecContext.create("libvpx" if codec == "vp8" else "h264", "r")
    frames = [f for p in packets for f in decoder.decode(p)]  # type: ignore[arg-type]
    # A fresh decoder shows the very first packet: it is a keyframe.
    assert len(frames) == 10 and frames[0].pts == 0
    encoder.close()


def _write(path: Path, seconds: float) -> None:
    recorder = Recorder(path, 544, 352, max_backlog=10_000)
    for k in range(int(seconds * 25)):
        recorder.video(to_yuv(_image(k)), k / 25)
        recorder.voice(to_int16(0.2 * np.sin(np.arange(1920) / 7)), k * 1920)
        recorder.microphone(np.full(960, 1000, np.int16), (k + 1) / 25)
        recorder.advance(k / 25)
    recorder.close()


def test_a_recording_holds_video_and_mixed_audio_of_the_call_length(tmp_path: Path) -> None:
    path = tmp_path / "call.mp4"
    _write(path, 3.0)
    with av.open(str(path)) as c:
        video = [f.time for f in c.decode(video=0)]
    with av.open(str(path)) as c:
        samples = sum(f.samples for f in c.decode(audio=0))
    assert len(video) == 75 and abs(video[-1] - 2.96) < 0.05
    assert abs(samples / 48_000 - 3.0) < 0.1


def test_a_finished_recording_is_a_plain_mp4_with_its_index_first(tmp_path: Path) -> None:
    """Browsers learn a fragmented MP4's length only as they read it and cannot seek ahead."""
    path = tmp_path / "call.mp4"
    _write(path, 2.0)
    data = path.read_bytes()
    assert b"moof" not in data and data.index(b"moov") < data.index(b"mdat")
    with av.open(str(path)) as c:
        assert c.duration is not None and abs(c.duration / 1e6 - 2.0) < 0.1


def test_a_recording_cut_short_is_salvaged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "call.mp4"
    # the server dies mid-call: the file stays fragmented, as the call wrote it
    monkeypatch.setattr("characters.realtime.recorder.rewrite", lambda path, check=False: True)
    _write(path, 4.0)
    monkeypatch.undo()
    assert b"moof" in path.read_bytes()
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    assert salvage(path)
    with av.open(io.BytesIO(path.read_bytes())) as c:
        frames = sum(1 for _ in c.decode(video=0))
    assert 25 <= frames < 100
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"\0" * 100)
    assert not salvage(empty) and not empty.exists()


# -- the stage ------------------------------------------------------------------------------


@functools.cache
def _renderer() -> object:
    from characters.face.analysis import analyse, decode_image
    from characters.face.renderer import WarpRenderer
    from tests.face_assets import hopper_bytes

    image = decode_image(hopper_bytes())
    return WarpRenderer(image, analyse(image, None))


def test_advance_and_draw_are_next_frame_in_two_steps() -> None:
    a = FaceVideoGenerator(_renderer(), sample_rate=24_000, seed=3)  # type: ignore[arg-type]
    b = FaceVideoGenerator(_renderer(), sample_rate=24_000, seed=3)  # type: ignore[arg-type]
    tone = to_int16(0.3 * np.sin(np.arange(24_000) / 5))
    for g in (a, b):
        g.push_audio(AudioChunk(tone, 24_000))
    for _ in range(5):
        whole, parts = a.next_frame(), b.draw(b.advance())
        assert whole.pts == parts.pts and (whole.image == parts.image).all()
        assert (whole.audio == parts.audio).all()
    assert a.played_samples == 5 * 960
    with pytest.raises(RuntimeError):
        a.rewind(0)  # audio is queued


def test_an_answer_starts_at_its_first_sound_with_its_phonemes_cut_alike() -> None:
    from characters.face.generator import PhonemeTiming

    rate = 22_050
    lead, sound = np.zeros(1_100, np.int16), to_int16(0.3 * np.cos(np.arange(rate) / 5))
    phonemes = [PhonemeTiming("^", 600), PhonemeTiming("_", 500), PhonemeTiming("a", rate)]
    chunk = AudioChunk(np.concatenate([lead, sound]), rate, phonemes).without_lead(keep_s=0.01)
    assert len(chunk.pcm) == rate + 220  # 10 ms of the 50 ms silence left
    assert chunk.phonemes == [PhonemeTiming("_", 220), PhonemeTiming("a", rate)]
    assert sum(p.num_samples for p in chunk.phonemes) == len(chunk.pcm)
    quiet = AudioChunk(np.zeros(500, np.int16), rate)
    assert quiet.without_lead() is quiet  # nothing to cut to


async def test_the_stage_plays_speech_releases_words_and_stops_at_a_barge_in() -> None:
    from characters.realtime.tracks import AvatarAudioTrack

    generator = FaceVideoGenerator(_renderer(), sample_rate=24_000, seed=1)  # type: ignore[arg-type]
    clock, buf = MediaClock(), AudioBuffer()
    words: list[tuple[int, str]] = []
    playing: list[bool] = []
    stage = AvatarStage(
        generator,
        clock,
        buf,
        video_out=None,
        on_words=lambda turn, delta: words.append((turn, delta)),
        on_playing=playing.append,
    )
    track = AvatarAudioTrack(clock, buf)
    runner = asyncio.ensure_future(stage.run())

    async def listen() -> None:
        while True:
            await track.recv()

    reader = asyncio.ensure_future(listen())
    clock.start()
    await asyncio.sleep(0.3)
    speech = to_int16(0.3 * np.sin(np.arange(3 * 24_000) / 5))
    stage.speak(1, "one two three four five six", speech, 24_000, None)
    await asyncio.sleep(1.2)
    assert stage.playing and playing == [True]
    assert words and words[0] == (1, "one")
    heard = stage.interrupt()
    assert heard == " ".join(w.strip() for _, w in words)
    await asyncio.sleep(0.2)
    assert not stage.playing and playing[-1] is False
    silent_from = buf.read_pos
    await asyncio.sleep(0.3)
    assert buf.voiced_until <= silent_from
    for task in (runner, reader):
        task.cancel()
    await asyncio.gather(runner, reader, return_exceptions=True)
    stage.close()
    track.stop()


async def test_a_frame_drawn_across_an_answer_start_is_not_sent() -> None:
    """Speech after silence redraws the frames from the next one on; a frame the worker was
    drawing meanwhile is for a time redrawn. Sent too, its RTP timestamp would come twice (or go
    backwards) and the client would decode what follows against a frame it never got: on CI,
    the face turned to coloured blocks for the rest of the answer."""
    import threading
    import time

    generator = FaceVideoGenerator(_renderer(), sample_rate=24_000, seed=1)  # type: ignore[arg-type]
    drawing = threading.Event()
    draw = generator.draw

    def slow_draw(step: object) -> object:
        drawing.set()
        time.sleep(0.03)  # a loaded machine: the worker is still drawing when speech comes
        return draw(step)  # type: ignore[arg-type]

    generator.draw = slow_draw  # type: ignore[method-assign,assignment]
    clock = MediaClock()
    track = AvatarVideoTrack(clock)
    track.use(VideoEncoder("vp8", 256, 256, fps=25, bitrate=500_000))
    stage = AvatarStage(generator, clock, AudioBuffer(), video_out=track)
    runner = asyncio.ensure_future(stage.run())
    sent: list[int] = []

    async def receive() -> None:
        while True:
            sent.append((await track.recv()).pts)  # type: ignore[arg-type]

    reader = asyncio.ensure_future(receive())
    clock.start()
    speech = to_int16(0.3 * np.sin(np.arange(24_000 // 2) / 5))
    for turn in (1, 2, 3):
        await asyncio.sleep(0.3)
        drawing.clear()
        await asyncio.wait_for(asyncio.to_thread(drawing.wait), 5)
        stage.speak(turn, "hello there", speech, 24_000, None)  # rewinds while a frame is drawn
        stage.end_answer(turn)
        await asyncio.sleep(0.5)
        stage.interrupt()
    await asyncio.sleep(0.3)
    for task in (runner, reader):
        task.cancel()
    await asyncio.gather(runner, reader, return_exceptions=True)
    stage.close()
    track.stop()
    assert stage.stats.rewinds == 3 and stage.stats.stale >= 1, stage.stats
    assert len(sent) > 10 and all(b > a for a, b in zip(sent, sent[1:], strict=False)), sent
    assert track.out_of_order == 0


# -- ICE servers ----------------------------------------------------------------------------


def test_ice_servers_are_checked_and_handed_to_clients_as_link_headers() -> None:
    from pydantic import ValidationError

    from characters.api.routes.webrtc import _link
    from characters.config import Settings

    turn = {"urls": ["turn:t.example:3478?transport=udp"], "username": "u", "credential": "p"}
    settings = Settings(ice_servers=[{"urls": "stun:s.example:3478"}, turn])
    assert settings.ice_servers[1]["username"] == "u"
    assert _link(settings.ice_servers[0]) == ['<stun:s.example:3478>; rel="ice-server"']
    assert _link(turn) == [
        '<turn:t.example:3478?transport=udp>; rel="ice-server"; username="u"; '
        'credential="p"; credential-type="password"'
    ]
    for bad in ([{"urls": "http://x"}], [{"username": "u"}], [{"urls": [1]}]):
        with pytest.raises(ValidationError):
            Settings(ice_servers=bad)
