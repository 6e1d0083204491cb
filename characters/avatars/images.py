"""Reference images: read them from data URIs or HTTPS URLs, validate, normalise, preview.

Everything here is synchronous CPU or network work with hard limits; callers run it off the
event loop. Every rejection is an :class:`InvalidImage` whose message says what to fix.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from characters import fetch
from characters.errors import InvalidImage
from characters.fetch import fetch_url

ALLOWED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
PREVIEW_SIDE = 384
PATH = ["referenceImage"]


@dataclass(frozen=True, slots=True)
class ImageLimits:
    max_bytes: int
    max_pixels: int
    min_side: int
    max_processed_side: int


@dataclass(frozen=True, slots=True)
class CheckedImage:
    """A reference image that decoded fully and passed every limit."""

    data: bytes
    content_type: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    """The image the face engine analyses and animates: always upright (no EXIF orientation
    left to apply), so every reader sees the same pixels whatever library decodes it."""

    data: bytes
    content_type: str
    width: int
    height: int
    preview: bytes
    reference_preview: bytes
    source_width: int
    """Width of the reference image as given, turned upright (the frame of ``faceKeypoints``)."""
    source_height: int


def decode_data_uri(uri: str, limits: ImageLimits) -> bytes:
    """``data:image/png;base64,...`` → bytes."""
    return fetch.decode_data_uri(
        uri,
        field="referenceImage",
        media="image",
        max_bytes=limits.max_bytes,
        too_big=_too_big(limits),
        error=InvalidImage,
    )


def _too_big(limits: ImageLimits) -> str:
    mb = limits.max_bytes / (1024 * 1024)
    return f"referenceImage is larger than {mb:g} MB; send a smaller JPEG, PNG or WebP image."


def check_image(data: bytes, limits: ImageLimits) -> CheckedImage:
    """Decode fully and enforce format, byte size, pixel count and minimum size."""
    if len(data) > limits.max_bytes:
        raise InvalidImage(_too_big(limits), PATH)
    if not data:
        raise InvalidImage("referenceImage is empty.", PATH)
    head = data[:512].lstrip().lower()
    if head.startswith((b"<?xml", b"<svg", b"<!doctype", b"<html")) or b"<svg" in head:
        raise InvalidImage(
            "referenceImage is an SVG or other text document; send a JPEG, PNG or WebP image.", PATH
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            fmt = img.format or ""
            if fmt not in ALLOWED_FORMATS:
                raise InvalidImage(
                    f"referenceImage format {fmt or 'unknown'} is not supported; "
                    "use JPEG, PNG or WebP.",
                    PATH,
                )
            width, height = img.size
            if width * height > limits.max_pixels:
                raise InvalidImage(
                    f"referenceImage is {width}x{height} pixels, more than the "
                    f"{limits.max_pixels // 1_000_000} megapixel limit; downscale it.",
                    PATH,
                )
            img.load()
    except InvalidImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InvalidImage("referenceImage has too many pixels (decompression bomb).", PATH) from e
    except UnidentifiedImageError as e:
        raise InvalidImage(
            "referenceImage could not be read as an image; send a JPEG, PNG or WebP file.", PATH
        ) from e
    except (OSError, SyntaxError, ValueError) as e:
        raise InvalidImage(
            "referenceImage is truncated or corrupt and could not be decoded.", PATH
        ) from e
    if min(width, height) < limits.min_side:
        raise InvalidImage(
            f"referenceImage is {width}x{height} pixels; it must be at least "
            f"{limits.min_side} pixels on each side.",
            PATH,
        )
    return CheckedImage(data, ALLOWED_FORMATS[fmt], width, height)


def process_image(image: CheckedImage, mode: str, limits: ImageLimits) -> ProcessedImage:
    """Normalise for animation (``optimize``) or keep as given (``none``), and make previews.

    ``optimize`` applies the EXIF orientation, flattens transparency onto white, converts to
    RGB and downsizes so the longer side is at most ``max_processed_side``. ``none`` keeps the
    bytes as given, except that an image with an EXIF orientation to apply is stored turned
    upright (JPEG at quality 95 for JPEG, else lossless PNG), so that analysis, rendering and
    any decoder see the same upright pixels.
    """
    with Image.open(io.BytesIO(image.data)) as src:
        src.load()
        upright = ImageOps.exif_transpose(src)
        reference_preview = _preview(upright)
        if mode == "none":
            if _orientation(src) in (None, 1):
                data, ctype = image.data, image.content_type
            else:
                data, ctype = _encode_upright(upright, image.content_type)
            preview = reference_preview
            w, h = upright.size
        else:
            img = _to_rgb(upright)
            scale = limits.max_processed_side / max(img.size)
            if scale < 1:
                size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
                img = img.resize(size, Image.Resampling.LANCZOS)
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=94, optimize=True)
            data, ctype, (w, h) = buf.getvalue(), "image/jpeg", img.size
            preview = _preview(img)
    return ProcessedImage(data, ctype, w, h, preview, reference_preview, *upright.size)


def _orientation(img: Image.Image) -> int | None:
    value = img.getexif().get(0x0112)
    return value if isinstance(value, int) else None


def upright_size(data: bytes) -> tuple[int, int]:
    """(width, height) of an image as viewers show it: EXIF orientations 5–8 swap the sides.

    Reads the header only; ``data`` must already have passed :func:`check_image`.
    """
    with Image.open(io.BytesIO(data)) as img:
        w, h = img.size
        return (h, w) if _orientation(img) in (5, 6, 7, 8) else (w, h)


def _encode_upright(img: Image.Image, content_type: str) -> tuple[bytes, str]:
    buf = io.BytesIO()
    if content_type == "image/jpeg":
        img.convert("RGB").save(buf, "JPEG", quality=95, subsampling=0)
        return buf.getvalue(), "image/jpeg"
    if img.mode not in ("RGB", "RGBA", "L", "LA"):
        img = img.convert("RGBA" if "transparency" in img.info or "A" in img.mode else "RGB")
    img.save(buf, "PNG")
    return buf.getvalue(), "image/png"


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def _preview(img: Image.Image) -> bytes:
    small = _to_rgb(img)
    small.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=85)
    return buf.getvalue()


# Remote images


def fetch_remote(
    url: str, limits: ImageLimits, *, timeout_s: float, allow_private: bool, allow_http: bool
) -> bytes:
    """Download an image from an ``https://`` URL with size, time and address limits."""
    return fetch_url(
        url,
        field="referenceImage",
        noun="image",
        accept="image/*",
        max_bytes=limits.max_bytes,
        too_big=_too_big(limits),
        timeout_s=timeout_s,
        allow_private=allow_private,
        allow_http=allow_http,
        error=InvalidImage,
    )
