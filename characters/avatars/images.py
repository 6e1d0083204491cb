"""Reference images: read them from data URIs or HTTPS URLs, validate, normalise, preview.

Everything here is synchronous CPU or network work with hard limits; callers run it off the
event loop. Every rejection is an :class:`InvalidImage` whose message says what to fix.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import ipaddress
import socket
import threading
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from PIL import Image, ImageOps, UnidentifiedImageError

from characters.errors import InvalidImage

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
    data: bytes
    content_type: str
    width: int
    height: int
    preview: bytes
    reference_preview: bytes


def decode_data_uri(uri: str, limits: ImageLimits) -> bytes:
    """``data:image/png;base64,...`` → bytes."""
    header, sep, payload = uri.partition(",")
    if not sep or not header.startswith("data:"):
        raise InvalidImage(
            "referenceImage is not a valid data URI (expected 'data:image/...;base64,...').", PATH
        )
    if not header.endswith(";base64"):
        raise InvalidImage("referenceImage data URIs must be base64-encoded (';base64,').", PATH)
    if len(payload) > (limits.max_bytes * 4) // 3 + 8:
        raise InvalidImage(_too_big(limits), PATH)
    try:
        data = base64.b64decode(payload.strip(), validate=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidImage("referenceImage data URI holds invalid base64.", PATH) from e
    return data


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
    RGB and downsizes so the longer side is at most ``max_processed_side``.
    """
    with Image.open(io.BytesIO(image.data)) as src:
        src.load()
        reference_preview = _preview(ImageOps.exif_transpose(src))
        if mode == "none":
            data, ctype, (w, h) = image.data, image.content_type, src.size
            preview = reference_preview
        else:
            img = _to_rgb(ImageOps.exif_transpose(src))
            scale = limits.max_processed_side / max(img.size)
            if scale < 1:
                size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
                img = img.resize(size, Image.Resampling.LANCZOS)
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=94, optimize=True)
            data, ctype, (w, h) = buf.getvalue(), "image/jpeg", img.size
            preview = _preview(img)
    return ProcessedImage(data, ctype, w, h, preview, reference_preview)


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


def _check_address(ip: str, allow_private: bool) -> None:
    addr = ipaddress.ip_address(ip.split("%")[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    if allow_private:
        return
    if not addr.is_global or addr.is_multicast:
        raise InvalidImage(
            "referenceImage URL points to a private, loopback or reserved address, which this "
            "server does not fetch (set CHARACTERS_ALLOW_PRIVATE_URLS=true to allow it).",
            PATH,
        )


def fetch_remote(
    url: str, limits: ImageLimits, *, timeout_s: float, allow_private: bool, allow_http: bool
) -> bytes:
    """Download an image from an ``https://`` URL with size, time and address limits."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_http and parts.scheme == "http"):
        raise InvalidImage("referenceImage URLs must use https://.", PATH)
    host = parts.hostname
    if not host:
        raise InvalidImage("referenceImage URL has no host.", PATH)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise InvalidImage(f"referenceImage URL host {host!r} could not be resolved.", PATH) from e
    for info in infos:
        _check_address(str(info[4][0]), allow_private)

    # httpx's timeout bounds each read, not the whole download: a server sending a byte now and
    # then would hold this thread for hours. A watchdog shuts the socket down at the deadline.
    sockets: list[socket.socket] = []
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        for sock in sockets:
            with contextlib.suppress(OSError):  # the base method: an SSLSocket's would unwrap
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def trace(event: str, info: dict[str, Any]) -> None:
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            stream = info["return_value"]
            sockets.append(stream.get_extra_info("socket"))
            if event == "connection.connect_tcp.complete":
                # The address actually connected to, before anything is sent (DNS rebinding).
                _check_address(str(stream.get_extra_info("server_addr")[0]), allow_private)
            if expired.is_set():
                expire()

    watchdog = threading.Timer(timeout_s, expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        with (
            httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False) as client,
            client.stream(
                "GET", url, headers={"Accept": "image/*"}, extensions={"trace": trace}
            ) as resp,
        ):
            if resp.is_redirect:
                raise InvalidImage("referenceImage URL redirects; give the final URL.", PATH)
            if resp.status_code != 200:
                raise InvalidImage(
                    f"referenceImage URL answered HTTP {resp.status_code}; it must return the "
                    "image with status 200.",
                    PATH,
                )
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limits.max_bytes:
                raise InvalidImage(_too_big(limits), PATH)
            chunks, total = [], 0
            for chunk in resp.iter_bytes():
                total += len(chunk)
                if total > limits.max_bytes:
                    raise InvalidImage(_too_big(limits), PATH)
                chunks.append(chunk)
    except httpx.HTTPError as e:
        if isinstance(e, httpx.TimeoutException) or expired.is_set():
            raise InvalidImage(
                f"referenceImage URL did not deliver the image within {timeout_s:g} s.", PATH
            ) from e
        raise InvalidImage(
            f"referenceImage URL could not be fetched ({type(e).__name__}).", PATH
        ) from e
    finally:
        watchdog.cancel()
        for sock in sockets:
            sock.close()
    if expired.is_set():  # the deadline passed as the last bytes arrived
        raise InvalidImage(
            f"referenceImage URL did not deliver the image within {timeout_s:g} s.", PATH
        )
    return b"".join(chunks)
