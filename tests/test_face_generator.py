"""The generator: audio clock, idle frames, barge-in, segments, audio pass-through, determinism.

These use a recording fake renderer, so they test timing and animation logic without pixels;
``test_real_render`` runs one real avatar through espeak-ng speech.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from characters.face import AnimatorState, AudioChunk, FaceParams, FaceVideoGenerator, PhonemeTiming
from characters.face.motion import HeadLimits
from tests.face_assets import espeak_available


class FakeRenderer:
    width, height = 8, 6

    def __init__(self) -> None:
        self.params: list[FaceParams] = []

    def render(self, params: FaceParams) -> np.ndarray:
        self.params.append(params)
        return np.zeros((self.height, self.width, 3), np.uint8)


SR = 16_000


def tone(seconds: float, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    env = np.sin(2 * np.pi * 3 * t) ** 2  # syllable-like loudness
    return (amp * env * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16)


def make(seed: int = 0) -> tuple[FaceVideoGenerator, FakeRenderer]:
    r = FakeRenderer()
    return FaceVideoGenerator(r, sample_rate=SR, fps=25, seed=seed), r


def mouth(p: FaceParams) -> float:
    return max(p.open, p.pucker, p.spread, p.press, p.upper_lift)


def test_idle_frames_on_the_sample_clock() -> None:
    gen, _ = make()
    frames = [gen.next_frame() for _ in range(50)]
    assert [f.pts for f in frames] == [k * 640 for k in range(50)]
    assert all(len(f.audio) == 640 and not f.audio.any() for f in frames)
    assert all(f.state is AnimatorState.IDLE and mouth(f.params) == 0 for f in frames)
    assert frames[0].time_base.denominator == SR


def test_non_integer_samples_per_frame_add_up() -> None:
    gen = FaceVideoGenerator(FakeRenderer(), sample_rate=22_050, fps=24)
    frames = [gen.next_frame() for _ in range(48)]
    assert sum(len(f.audio) for f in frames) == 2 * 22_050
    assert frames[24].pts == 22_050


def test_audio_passes_through_in_lockstep_and_segment_end_is_flagged() -> None:
    gen, _ = make()
    pcm = tone(1.0)
    gen.push_audio(AudioChunk(pcm[:7000].tobytes(), SR))
    gen.push_audio(AudioChunk(pcm[7000:], SR))
    gen.end_segment()
    frames = [gen.next_frame() for _ in range(30)]
    out = np.concatenate([f.audio for f in frames])
    assert np.array_equal(out[: len(pcm)], pcm)
    assert not out[len(pcm) :].any()
    ended = [i for i, f in enumerate(frames) if f.segment_ended]
    assert ended == [24]
    assert frames[10].state is AnimatorState.SPEAKING
    assert frames[27].state is AnimatorState.IDLE


def test_late_segment_end_is_flagged_on_the_next_frame() -> None:
    gen, _ = make()
    gen.push_audio(AudioChunk(tone(0.1), SR))
    frames = [gen.next_frame() for _ in range(5)]
    assert not any(f.segment_ended for f in frames)
    gen.end_segment()
    assert gen.next_frame().segment_ended


def test_envelope_fallback_moves_the_mouth() -> None:
    gen, _ = make()
    gen.push_audio(AudioChunk(tone(1.0), SR))
    frames = [gen.next_frame() for _ in range(25)]
    opens = [f.params.open for f in frames]
    assert max(opens) > 0.4 and min(opens) < 0.1


def test_phoneme_timings_drive_visemes() -> None:
    gen, _ = make()
    n = SR // 5
    phon = [PhonemeTiming("m", n), PhonemeTiming("ɑ", n), PhonemeTiming("u", n)]
    gen.push_audio(AudioChunk(np.full(3 * n, 8000, np.int16), SR, phon))
    frames = [gen.next_frame() for _ in range(15)]
    assert frames[2].params.press > 0.8
    assert frames[7].params.open > 0.5
    assert frames[12].params.pucker > 0.7


def test_sample_rate_mismatch_is_refused() -> None:
    gen, _ = make()
    with pytest.raises(ValueError, match="resample"):
        gen.push_audio(AudioChunk(tone(0.1), 48_000))


def test_barge_in_returns_to_rest_within_two_frames() -> None:
    gen, _ = make()
    gen.push_audio(AudioChunk(np.full(SR * 3, 12000, np.int16), SR))
    for _ in range(10):
        f = gen.next_frame()
    assert f.params.open > 0.3
    gen.clear()
    after = [gen.next_frame() for _ in range(3)]
    assert mouth(after[1].params) == 0 and mouth(after[2].params) == 0
    assert not any(f.audio.any() for f in after)
    assert gen.queued_samples == 0


def test_underrun_plays_silence_then_resumes() -> None:
    gen, _ = make()
    gen.push_audio(AudioChunk(tone(0.2), SR))
    frames = [gen.next_frame() for _ in range(8)]
    assert not frames[6].audio.any()
    gen.push_audio(AudioChunk(tone(0.2), SR))
    assert gen.next_frame().audio.any()


def test_blinks_are_natural_and_seeded() -> None:
    gen, r = make(seed=7)
    for _ in range(25 * 30):
        gen.next_frame()
    blink = np.array([p.blink_left for p in r.params])
    starts = np.flatnonzero((blink[1:] > 0.5) & (blink[:-1] <= 0.5))
    gaps = np.diff(starts) / 25
    assert 5 <= len(starts) <= 16
    assert gaps.min() > 0.25 and gaps.max() < 7
    gen2, r2 = make(seed=7)
    for _ in range(25 * 30):
        gen2.next_frame()
    assert [p.blink_left for p in r2.params] == list(blink)
    gen3, r3 = make(seed=8)
    for _ in range(25 * 30):
        gen3.next_frame()
    assert [p.blink_left for p in r3.params] != list(blink)


def test_idle_head_motion_is_subtle_and_listening_nods() -> None:
    gen, r = make()
    for _ in range(25 * 20):
        gen.next_frame()
    roll = np.array([p.roll for p in r.params])
    assert 0.002 < np.abs(roll).max() < 0.05
    gen.set_listening(True)
    start = len(r.params)
    for _ in range(25 * 20):
        gen.next_frame()
    listening = r.params[start:]
    assert gen.animator.state is AnimatorState.LISTENING
    assert max(p.brow for p in listening) > 0.1  # nods raise the brows a little
    assert max(abs(p.gaze_x) for p in listening) <= 0.2


def test_speaking_turns_the_head_within_its_limits() -> None:
    limits = HeadLimits()
    r = FakeRenderer()
    gen = FaceVideoGenerator(r, sample_rate=SR, fps=25, seed=3, head_limits=limits)
    gen.push_audio(AudioChunk(tone(60.0), SR))
    gen.end_segment()
    for _ in range(25 * 60):
        gen.next_frame()
    speaking = r.params[25:]  # once the turns have eased in
    yaw = np.array([p.yaw for p in speaking])
    pitch = np.array([p.pitch for p in speaking])
    roll = np.array([p.roll for p in speaking])
    assert np.abs(yaw).max() <= limits.yaw + 1e-12
    assert np.abs(pitch).max() <= limits.pitch + 1e-12
    assert np.abs(roll).max() <= limits.roll + 1e-12
    # it really turns: side to side over most of the allowed range, centred on the rest pose
    assert np.percentile(yaw, 98) - np.percentile(yaw, 2) > 1.2 * limits.yaw
    assert abs(yaw.mean()) < 0.25 * limits.yaw
    # and smoothly: no jumps between frames
    assert np.abs(np.diff(yaw)).max() < 0.15 * limits.yaw
    # listening is calmer
    gen.set_listening(True)
    start = len(r.params)
    for _ in range(25 * 30):
        gen.next_frame()
    listening = np.array([p.yaw for p in r.params[start + 75 :]])
    assert listening.std() < 0.6 * yaw.std()


def test_no_head_turn_when_the_limit_is_zero() -> None:
    r = FakeRenderer()
    gen = FaceVideoGenerator(
        r, sample_rate=SR, fps=25, seed=3, head_limits=HeadLimits.from_degrees(0)
    )
    gen.push_audio(AudioChunk(tone(5.0), SR))
    for _ in range(25 * 6):
        gen.next_frame()
    assert all(p.yaw == 0 and p.pitch == 0 and p.roll == 0 for p in r.params)


def test_stressed_syllables_nod_and_raise_the_brows() -> None:
    gen, r = make()
    short = [("t", 0.05), ("ɪ", 0.08)] * 4
    phonemes = [*short, ("s", 0.05), ("ɑ", 0.3), *short]
    audio = tone(sum(d for _, d in phonemes))
    timings = [PhonemeTiming(ph, round(d * SR)) for ph, d in phonemes]
    gen.push_audio(AudioChunk(audio, SR, timings))
    gen.end_segment()
    for _ in range(40):
        gen.next_frame()
    brow = np.array([p.brow for p in r.params])
    t = np.arange(len(brow)) / 25
    stressed_at = 4 * 0.13 + 0.05
    assert brow[(t > stressed_at) & (t < stressed_at + 0.36)].max() > 0.2
    assert brow[t < stressed_at - 0.04].max() == 0.0


def test_async_frames() -> None:
    async def run() -> list[int]:
        gen, _ = make()
        out = []
        async for f in gen.frames(realtime=False):
            out.append(f.pts)
            if len(out) == 3:
                break
        return out

    assert asyncio.run(run()) == [0, 640, 1280]


@pytest.mark.slow
@pytest.mark.skipif(not espeak_available(), reason="needs espeak-ng (apt-get install espeak-ng)")
def test_real_render_speech(tmp_path) -> None:
    from characters.face import WarpRenderer, analyse
    from tests.face_assets import hopper_bytes, speak

    audio, sr, phonemes = speak("Hello, I am Grace.")
    img = hopper_bytes()
    gen = FaceVideoGenerator(WarpRenderer(img, analyse(img)), sample_rate=sr, fps=25, seed=1)
    gen.push_audio(AudioChunk(audio, sr, phonemes))
    gen.end_segment()
    frames = [gen.next_frame() for _ in range(int(len(audio) / sr * 25) + 5)]
    assert frames[0].image.shape == (1088, 704, 3)
    assert max(f.params.open for f in frames) > 0.3
    assert frames[-1].to_av().pts == frames[-1].pts


def test_the_head_turn_setting_sets_the_limits() -> None:
    from pydantic import ValidationError

    from characters.config import Settings

    assert Settings().face_head_turn_deg == 8.0
    limits = HeadLimits.from_degrees(Settings(face_head_turn_deg=4).face_head_turn_deg)
    assert limits.yaw == pytest.approx(np.radians(4)) and limits.roll == pytest.approx(
        np.radians(2)
    )
    for bad in (-1, 13):
        with pytest.raises(ValidationError):
            Settings(face_head_turn_deg=bad)
