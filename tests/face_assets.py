"""Test images and speech for the face engine: packaged photos, a drawn cartoon, espeak-ng speech.

Everything here is made locally: the photos ship inside scikit-image and matplotlib, the cartoon
is drawn with Pillow, and speech comes from libespeak-ng (Debian ``espeak-ng``) through ctypes,
with phoneme events in IPA so the timings match the audio sample for sample, like Piper's.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import io
import math
import os
import threading
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from characters.face.generator import PhonemeTiming

SENTENCE = "Hello there. I am a talking portrait, and my whole face moves from one photo."


def hopper_bytes() -> bytes:
    """Grace Hopper's portrait (matplotlib sample data), 512×600 JPEG."""
    import matplotlib

    path = os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")
    with open(path, "rb") as f:
        return f.read()


def hopper_rgb() -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(hopper_bytes())).convert("RGB"))


def astronaut_rgb() -> np.ndarray:
    """Eileen Collins (scikit-image), 512×512 RGB."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())  # type: ignore[no-untyped-call]


def png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def two_faces_rgb() -> np.ndarray:
    """Hopper and the astronaut side by side, scaled to the same height."""
    a = Image.fromarray(hopper_rgb()).resize((427, 500))
    b = Image.fromarray(astronaut_rgb()).resize((500, 500))
    out = Image.new("RGB", (927, 500))
    out.paste(a, (0, 0))
    out.paste(b, (427, 0))
    return np.asarray(out)


def no_face_rgb() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.coffee())  # type: ignore[no-untyped-call]


def huge_png_header(width: int = 30_000, height: int = 30_000) -> bytes:
    """A PNG whose header claims a huge size (its pixel data is never decoded)."""
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# A cartoon face drawn with Pillow, and its keypoints.

CARTOON_SIZE = (640, 720)
_FACE_C = (320, 380)
_FACE_R = (175, 215)


def cartoon_rgb() -> np.ndarray:
    """A flat-coloured cartoon character (hair, big eyes, a closed smile)."""
    w, h = CARTOON_SIZE
    img = Image.new("RGB", (w, h), (150, 200, 235))
    d = ImageDraw.Draw(img)
    cx, cy = _FACE_C
    rx, ry = _FACE_R
    d.ellipse((cx - rx - 30, cy - ry - 45, cx + rx + 30, cy + ry - 40), fill=(90, 55, 30))
    d.rectangle((cx - 60, cy + ry - 40, cx + 60, h), fill=(240, 200, 165))
    d.rectangle((0, h - 90, w, h), fill=(60, 110, 170))
    d.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=(250, 214, 180))
    d.pieslice((cx - rx - 10, cy - ry - 30, cx + rx + 10, cy + 40), 180, 360, fill=(90, 55, 30))
    for ex in (250, 390):
        ey = 360
        d.ellipse(
            (ex - 40, ey - 32, ex + 40, ey + 32),
            fill=(255, 255, 255),
            outline=(40, 30, 30),
            width=3,
        )
        d.ellipse((ex - 18, ey - 18, ex + 18, ey + 18), fill=(70, 120, 60))
        d.ellipse((ex - 8, ey - 8, ex + 8, ey + 8), fill=(10, 10, 10))
        d.ellipse((ex + 3, ey - 10, ex + 9, ey - 4), fill=(255, 255, 255))
        d.arc((ex - 42, ey - 72, ex + 42, ey - 30), 200, 340, fill=(70, 40, 20), width=7)
    d.arc((305, 400, 335, 450), 20, 160, fill=(200, 140, 110), width=4)
    # closed smile: upper and lower lip
    d.chord((262, 470, 378, 506), 180, 360, fill=(200, 70, 80))
    d.chord((262, 478, 378, 520), 0, 180, fill=(215, 90, 95))
    d.line((264, 490, 376, 490), fill=(120, 30, 40), width=3)
    return np.asarray(img)


def cartoon_negative_rgb() -> np.ndarray:
    """The cartoon in negative colours, a character face detection misses (it finds the plain
    cartoon's face): the same geometry, so :func:`cartoon_keypoints` fit it."""
    return np.ascontiguousarray(255 - cartoon_rgb())


def cartoon_keypoints() -> dict[str, Any]:
    cx, cy = _FACE_C
    rx, ry = _FACE_R
    outline = [
        [round(cx + rx * math.sin(a), 1), round(cy - ry * math.cos(a), 1)]
        for a in np.linspace(0, 2 * math.pi, 20, endpoint=False)
    ]
    return {
        "leftEye": {
            "center": [250, 360],
            "left": [208, 360],
            "right": [292, 360],
            "top": [250, 327],
            "bottom": [250, 393],
        },
        "rightEye": {
            "center": [390, 360],
            "left": [348, 360],
            "right": [432, 360],
            "top": [390, 327],
            "bottom": [390, 393],
        },
        "mouthLeft": [264, 490],
        "mouthRight": [376, 490],
        "upperLip": [320, 472],
        "lowerLip": [320, 518],
        "chin": [320, 592],
        "faceOutline": outline,
    }


# A mascot drawn with Pillow (a round bear: ears, a muzzle, bead eyes, a one-line mouth), and its
# keypoints. Unlike the cartoon it has no hair, no lips and no eye whites.

MASCOT_SIZE = (640, 640)
_BEAR_C = (320, 350)
_BEAR_R = (205, 190)
_BEAR_EYES = ((248, 318), (392, 318))
_BEAR_EYE_R = (17, 22)
_BEAR_MOUTH_Y = 452


def mascot_rgb() -> np.ndarray:
    """A flat-coloured bear mascot with a closed mouth drawn as a single dark line."""
    w, h = MASCOT_SIZE
    img = Image.new("RGB", (w, h), (186, 226, 170))
    d = ImageDraw.Draw(img)
    fur, inner, muzzle, dark = (176, 112, 62), (236, 160, 150), (245, 225, 190), (55, 35, 25)
    cx, cy = _BEAR_C
    rx, ry = _BEAR_R
    d.rectangle((cx - 150, cy + ry - 30, cx + 150, h), fill=(235, 120, 60))  # a jumper
    for ex in (cx - 150, cx + 150):  # ears
        d.ellipse((ex - 68, cy - ry - 40, ex + 68, cy - ry + 96), fill=fur)
        d.ellipse((ex - 38, cy - ry - 10, ex + 38, cy - ry + 66), fill=inner)
    d.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=fur)
    d.ellipse((cx - 105, 372, cx + 105, 510), fill=muzzle)
    for ex, ey in _BEAR_EYES:
        erx, ery = _BEAR_EYE_R
        d.ellipse((ex - erx, ey - ery, ex + erx, ey + ery), fill=dark)
        d.ellipse((ex - 7, ey - 14, ex + 3, ey - 4), fill=(255, 255, 255))
        d.arc((ex - 34, ey - 62, ex + 34, ey - 30), 205, 335, fill=(110, 65, 35), width=8)
    d.ellipse((cx - 30, 392, cx + 30, 428), fill=dark)  # nose
    y = _BEAR_MOUTH_Y
    d.line((cx, 426, cx, y - 2), fill=dark, width=5)
    d.arc((cx - 56, y - 43, cx + 56, y + 3), 20, 160, fill=dark, width=6)  # a closed smile
    for x, y in ((180, 410), (460, 410)):  # cheeks
        d.ellipse((x - 28, y - 16, x + 28, y + 16), fill=(214, 128, 96))
    return np.asarray(img)


def mascot_keypoints() -> dict[str, Any]:
    cx, cy = _BEAR_C
    rx, ry = _BEAR_R
    outline = [
        [round(cx + rx * math.sin(a), 1), round(cy - ry * math.cos(a), 1)]
        for a in np.linspace(0, 2 * math.pi, 24, endpoint=False)
    ]
    erx, ery = _BEAR_EYE_R

    def eye(x: int, y: int) -> dict[str, list[int]]:
        return {
            "center": [x, y],
            "left": [x - erx - 1, y],
            "right": [x + erx + 1, y],
            "top": [x, y - ery - 1],
            "bottom": [x, y + ery + 1],
        }

    y = _BEAR_MOUTH_Y
    return {
        "leftEye": eye(*_BEAR_EYES[0]),
        "rightEye": eye(*_BEAR_EYES[1]),
        "mouthLeft": [cx - 53, y - 12],
        "mouthRight": [cx + 53, y - 12],
        "upperLip": [cx, y - 5],
        "lowerLip": [cx, y + 5],
        "chin": [cx, cy + ry - 6],
        "faceOutline": outline,
    }


# espeak-ng speech with IPA phoneme events

_EVENT_PHONEME = 7


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)
_espeak_lock = threading.Lock()


@functools.cache
def _espeak() -> tuple[Any, int]:
    name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
    lib = ctypes.CDLL(name)
    lib.espeak_Initialize.restype = ctypes.c_int
    # AUDIO_OUTPUT_SYNCHRONOUS, phoneme events reported in IPA
    rate = lib.espeak_Initialize(2, 0, None, 0x0001 | 0x0002)
    if rate <= 0:
        raise RuntimeError("espeak-ng failed to initialise")
    lib.espeak_SetVoiceByName(b"en-us")
    lib.espeak_SetParameter(1, 150, 0)  # espeakRATE, words per minute
    return lib, rate


def espeak_available() -> bool:
    try:
        _espeak()
    except (OSError, RuntimeError):
        return False
    return True


def speak(text: str = SENTENCE) -> tuple[np.ndarray, int, list[PhonemeTiming]]:
    """Synthesize ``text``: int16 mono samples, their sample rate, and IPA phoneme timings."""
    lib, rate = _espeak()
    chunks: list[np.ndarray] = []
    events: list[tuple[int, str]] = []

    def on_synth(wav: Any, n: int, ev: Any) -> int:
        if n > 0 and wav:
            chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while ev[i].type != 0:
            if ev[i].type == _EVENT_PHONEME:
                name = ev[i].id.split(b"\0", 1)[0].decode("utf-8", "replace")
                events.append((ev[i].audio_position, name))
            i += 1
        return 0

    cb = _CALLBACK(on_synth)
    data = text.encode("utf-8") + b"\0"
    with _espeak_lock:
        lib.espeak_SetSynthCallback(cb)
        lib.espeak_Synth(data, len(data), 0, 0, 0, 0x1000, None, None)  # espeakENDPAUSE
        lib.espeak_Synchronize()
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    timings: list[PhonemeTiming] = []
    starts = [round(ms * rate / 1000) for ms, _ in events] + [len(audio)]
    if starts and starts[0] > 0:
        timings.append(PhonemeTiming("_", starts[0]))
    for i, (_, name) in enumerate(events):
        n = starts[i + 1] - starts[i]
        if n > 0:
            timings.append(PhonemeTiming(name, n))
    return audio.astype(np.int16), rate, timings
