"""The 30 preset voice ids Runway accepts, with the display name and description we give each.

The engine voice behind each preset is in :data:`characters.voices.tts.ENGINE_VOICES`; this
catalogue is what the API shows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VoicePreset:
    """A preset voice as the API shows it."""

    id: str
    name: str
    """Display name: the capitalised id, as Runway shows it."""
    description: str
    """A few words on its character (Runway's own for clara, victoria and vincent)."""
    gender: str
    """``female``, ``male`` or ``neutral``: how the voice is meant to sound."""


_PRESETS = [
    ("victoria", "female", "Firm, professional"),
    ("vincent", "male", "Knowledgeable, authoritative"),
    ("clara", "female", "Soft, approachable"),
    ("drew", "male", "Relaxed, conversational"),
    ("skye", "female", "Bright, upbeat"),
    ("max", "male", "Energetic, friendly"),
    ("morgan", "neutral", "Calm, neutral"),
    ("felix", "male", "Playful, lively"),
    ("mia", "female", "Warm, cheerful"),
    ("marcus", "male", "Deep, confident"),
    ("summer", "female", "Breezy, light"),
    ("ruby", "female", "Crisp, expressive"),
    ("aurora", "female", "Gentle, soothing"),
    ("jasper", "male", "Steady, thoughtful"),
    ("leo", "male", "Easygoing, casual"),
    ("adrian", "male", "Polished, articulate"),
    ("nina", "female", "Clear, attentive"),
    ("emma", "female", "Friendly, reassuring"),
    ("blake", "male", "Direct, assured"),
    ("david", "male", "Mature, measured"),
    ("maya", "female", "Kind, patient"),
    ("nathan", "male", "Earnest, clear"),
    ("sam", "neutral", "Neutral, balanced"),
    ("georgia", "female", "Poised, elegant"),
    ("petra", "female", "Composed, precise"),
    ("adam", "male", "Grounded, dependable"),
    ("zach", "male", "Youthful, spirited"),
    ("violet", "female", "Airy, delicate"),
    ("roman", "male", "Rich, commanding"),
    ("luna", "female", "Dreamy, soft-spoken"),
]

PRESETS: dict[str, VoicePreset] = {
    pid: VoicePreset(pid, pid.capitalize(), desc, gender) for pid, gender, desc in _PRESETS
}
PRESET_IDS: tuple[str, ...] = tuple(PRESETS)
