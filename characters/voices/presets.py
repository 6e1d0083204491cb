"""The 30 preset voice ids Runway accepts, with the display name and description we give each.

The engine voice behind each preset is in :data:`characters.voices.tts.ENGINE_VOICES`; this
catalogue is what the API shows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VoicePreset:
    id: str
    name: str
    description: str


_PRESETS = [
    ("victoria", "Firm, professional"),
    ("vincent", "Knowledgeable, authoritative"),
    ("clara", "Soft, approachable"),
    ("drew", "Relaxed, conversational"),
    ("skye", "Bright, upbeat"),
    ("max", "Energetic, friendly"),
    ("morgan", "Calm, neutral"),
    ("felix", "Playful, lively"),
    ("mia", "Warm, cheerful"),
    ("marcus", "Deep, confident"),
    ("summer", "Breezy, light"),
    ("ruby", "Crisp, expressive"),
    ("aurora", "Gentle, soothing"),
    ("jasper", "Steady, thoughtful"),
    ("leo", "Easygoing, casual"),
    ("adrian", "Polished, articulate"),
    ("nina", "Clear, attentive"),
    ("emma", "Friendly, reassuring"),
    ("blake", "Direct, assured"),
    ("david", "Mature, measured"),
    ("maya", "Kind, patient"),
    ("nathan", "Earnest, clear"),
    ("sam", "Neutral, balanced"),
    ("georgia", "Poised, elegant"),
    ("petra", "Composed, precise"),
    ("adam", "Grounded, dependable"),
    ("zach", "Youthful, spirited"),
    ("violet", "Airy, delicate"),
    ("roman", "Rich, commanding"),
    ("luna", "Dreamy, soft-spoken"),
]

PRESETS: dict[str, VoicePreset] = {
    pid: VoicePreset(pid, pid.capitalize(), desc) for pid, desc in _PRESETS
}
PRESET_IDS: tuple[str, ...] = tuple(PRESETS)
