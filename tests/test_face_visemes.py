"""IPA phonemes to visemes, coarticulation and bilabial closure."""

from __future__ import annotations

import numpy as np
import pytest

from characters.face.visemes import MOUTH_FIELDS, SHAPES, Viseme, VisemeTrack, ipa_to_visemes


def test_at_least_eight_distinct_visemes() -> None:
    assert len(Viseme) >= 8
    poses = {tuple(SHAPES[v]) for v in Viseme}
    assert len(poses) == len(Viseme)
    for required in ("rest", "mbp", "fv", "aa", "ee", "oh", "uw", "transition"):
        assert Viseme(required) in SHAPES


@pytest.mark.parametrize(
    ("ipa", "viseme"),
    [
        ("m", Viseme.MBP),
        ("b", Viseme.MBP),
        ("f", Viseme.FV),
        ("v", Viseme.FV),
        ("ɑ", Viseme.AA),
        ("æ", Viseme.AA),
        ("i", Viseme.EE),
        ("ɪ", Viseme.EE),
        ("o", Viseme.OH),
        ("u", Viseme.UW),
        ("w", Viseme.UW),
        ("ʃ", Viseme.CH),
        ("t͡ʃ", Viseme.CH),
        ("θ", Viseme.TH),
        ("l", Viseme.L),
        ("ɫ", Viseme.L),
        ("t", Viseme.TRANSITION),
        (".", Viseme.REST),
        ("", Viseme.REST),
    ],
)
def test_ipa_mapping(ipa: str, viseme: Viseme) -> None:
    result = ipa_to_visemes(ipa)
    assert result is not None and result[0][0] is viseme


def test_diphthong_and_marks() -> None:
    assert [v for v, _ in ipa_to_visemes("aɪ") or []] == [Viseme.AA, Viseme.EE]
    assert [v for v, _ in ipa_to_visemes("oʊ") or []] == [Viseme.OH, Viseme.UW]
    for mark in ("ˈ", "ˌ", "ː", " ", "_", "^", "$"):
        assert ipa_to_visemes(mark) is None


def _track(phonemes: list[tuple[str, float]]) -> VisemeTrack:
    track = VisemeTrack()
    track.add(phonemes, 0.0)
    return track


def test_vowel_reaches_its_shape_and_silence_is_rest() -> None:
    track = _track([("_", 0.2), ("ɑ", 0.3), (".", 0.3)])
    mid = track.pose_at(0.35)
    assert mid[0] == pytest.approx(SHAPES[Viseme.AA][0], abs=0.02)
    assert np.allclose(track.pose_at(0.05), 0, atol=1e-3)
    assert np.allclose(track.pose_at(0.78), 0, atol=1e-3)


def test_coarticulation_is_smooth() -> None:
    track = _track([("ɑ", 0.15), ("u", 0.15)])
    opens = [track.pose_at(t)[0] for t in np.arange(0.05, 0.25, 0.01)]
    steps = np.abs(np.diff(opens))
    assert steps.max() < 0.15  # no jump at the boundary
    assert opens[0] > opens[-1]


def test_short_bilabial_closes_the_lips_between_vowels() -> None:
    track = _track([("ɑ", 0.15), ("m", 0.05), ("ɑ", 0.15)])
    pose = track.pose_at(0.175)
    assert pose[3] >= 0.85  # pressed
    assert pose[0] < 0.15  # and (nearly) closed, despite the open vowels around it


def test_the_tongue_rises_for_l_and_th_only() -> None:
    tongue = MOUTH_FIELDS.index("tongue")
    raised = {v for v in Viseme if SHAPES[v][tongue] > 0.5}
    assert raised == {Viseme.L, Viseme.TH}
    track = VisemeTrack()
    track.add([("ɑ", 0.2), ("l", 0.12), ("ɑ", 0.2), ("m", 0.1)], 0.0)
    assert track.pose_at(0.26)[tongue] > 0.6  # in the middle of the L
    assert track.pose_at(0.1)[tongue] < 0.05  # in the A
    assert track.pose_at(0.57)[tongue] < 0.05  # the M closes over it


def test_stressed_syllables_give_a_short_emphasis() -> None:
    track = VisemeTrack()
    # three short vowels, then a long one (stressed by its length), then a marked one
    track.add([("t", 0.05), ("ɪ", 0.08), ("n", 0.05), ("ɪ", 0.08), ("k", 0.05), ("ɪ", 0.08)], 0.0)
    track.add([("s", 0.06), ("ɑ", 0.2), ("d", 0.05)], 0.39)
    track.add([("ˈ", 0.0), ("ɪ", 0.08), ("t", 0.1)], 0.7)
    times = np.arange(0.0, 1.2, 0.01)
    value = np.array([track.emphasis_at(t) for t in times])
    assert value[times < 0.4].max() == 0.0  # the short unstressed vowels give none
    assert value[(times > 0.45) & (times < 0.7)].max() > 0.9  # the long vowel at 0.45 s
    assert value[(times > 0.72) & (times < 1.0)].max() > 0.9  # the vowel marked ˈ at 0.7 s
    assert value[-1] == 0.0  # it ends
