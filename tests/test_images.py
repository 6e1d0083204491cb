"""Reference images: decoding, validation, normalisation and remote fetching.

Unit tests call ``characters.avatars.images`` directly; the API tests (``store``, ``slow``) send
the same bad images through the official SDK to a real server and check that each is a 400 with a
clear message and that nothing was stored (no avatar, no blob row, no blob file).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import runwayml
from PIL import Image
from sqlalchemy import create_engine, text

from characters.avatars import images
from characters.avatars.images import (
    ImageLimits,
    check_image,
    decode_data_uri,
    fetch_remote,
    process_image,
)
from characters.config import async_url, sync_url
from characters.errors import InvalidImage
from tests.conftest import Server, data_uri, face_png, png_bytes, ready_avatar

LIMITS = ImageLimits(
    max_bytes=5 * 1024 * 1024, max_pixels=40_000_000, min_side=64, max_processed_side=2048
)
RED, BLUE = (220, 20, 20), (20, 20, 220)
VOICE = {"type": "runway-live-preset", "presetId": "clara"}


# Image builders


def encode(img: Image.Image, fmt: str, **kwargs: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Incompressible pixels (a PNG of these is about 3 bytes per pixel)."""
    return Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))


def halves(size: tuple[int, int] = (640, 480)) -> Image.Image:
    """Left half red, right half blue: shows which way an image was turned."""
    img = Image.new("RGB", size, RED)
    img.paste(BLUE, (size[0] // 2, 0, size[0], size[1]))
    return img


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def jpeg_with_orientation(orientation: int, size: tuple[int, int] = (640, 480)) -> bytes:
    return encode(halves(size), "JPEG", quality=95, exif=_exif(orientation))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int) -> bytes:
    """A complete, valid 1-bit greyscale PNG of ``width``x``height`` black pixels: it compresses
    about 1000:1, so a huge image is small on disk (a decompression bomb)."""
    row = b"\x00" * (1 + (width + 7) // 8)
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def big_png(min_bytes: int = 6 * 1024 * 1024) -> bytes:
    """A PNG larger than ``min_bytes`` (noise does not compress)."""
    side = int((min_bytes / 3) ** 0.5) + 64
    data = encode(noise((side, side)), "PNG", compress_level=1)
    assert len(data) > min_bytes
    return data


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="512" height="512"><rect width="512" height="512" fill="red"/></svg>'


@pytest.fixture(scope="module")
def bomb() -> bytes:
    data = png_declaring(30_000, 30_000)  # 900 megapixels
    assert len(data) < 200_000
    return data


# decode_data_uri


def test_decode_data_uri_round_trip() -> None:
    data = png_bytes((64, 64))
    assert decode_data_uri(data_uri(data), LIMITS) == data


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("data:image/png;base64,!!!not-base64!!!", "invalid base64"),
        ("data:image/png;base64,iVBORw0KGgo=x", "invalid base64"),
        ("data:image/png,iVBORw0KGgo", "base64-encoded"),
        ("data:image/png;base64", "not a valid data URI"),
        ("image/png;base64,iVBORw0KGgo", "not a valid data URI"),
    ],
)
def test_decode_data_uri_refuses(uri: str, message: str) -> None:
    with pytest.raises(InvalidImage, match=message) as err:
        decode_data_uri(uri, LIMITS)
    assert err.value.path == ["referenceImage"]


def test_decode_data_uri_refuses_oversized_payload_before_decoding() -> None:
    small = ImageLimits(max_bytes=300, max_pixels=10**6, min_side=1, max_processed_side=256)
    with pytest.raises(InvalidImage, match="larger than"):
        decode_data_uri("data:image/png;base64," + "A" * 500, small)


# check_image


@pytest.mark.parametrize(
    ("fmt", "ctype"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_check_image_accepts_jpeg_png_webp(fmt: str, ctype: str) -> None:
    data = encode(halves((300, 200)), fmt)
    checked = check_image(data, LIMITS)
    assert (checked.content_type, checked.width, checked.height) == (ctype, 300, 200)
    assert checked.data == data


def test_check_image_accepts_the_minimum_side() -> None:
    assert check_image(png_bytes((64, 64)), LIMITS).width == 64


def _truncated(fmt: str) -> bytes:
    data = encode(noise((400, 300)), fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return data[: len(data) // 2]


def _corrupt_png() -> bytes:
    data = bytearray(encode(noise((200, 200)), "PNG"))
    for i in range(200, 260):  # inside the first IDAT: bad CRC and bad deflate data
        data[i] ^= 0xFF
    return bytes(data)


BAD: dict[str, tuple[Callable[[], bytes], str]] = {
    "truncated-png": (lambda: _truncated("PNG"), "truncated or corrupt"),
    "truncated-jpeg": (lambda: _truncated("JPEG"), "truncated or corrupt"),
    "corrupt-png": (_corrupt_png, "truncated or corrupt"),
    "png-signature-only": (lambda: b"\x89PNG\r\n\x1a\n", "could not be read"),
    "random-bytes": (lambda: random.Random(1).randbytes(4096), "could not be read"),
    "text": (lambda: b"hello, this is not an image at all", "could not be read"),
    "empty": (lambda: b"", "empty"),
    "svg": (lambda: SVG, "SVG"),
    "svg-bare": (lambda: b"  <svg xmlns='http://www.w3.org/2000/svg'></svg>", "SVG"),
    "svg-bom": (lambda: b"\xef\xbb\xbf<svg xmlns='http://www.w3.org/2000/svg'/>", "SVG"),
    "html": (lambda: b"<!DOCTYPE html><html><img src=x></html>", "SVG or other text"),
    "gif": (lambda: encode(halves((200, 200)), "GIF"), "format GIF is not supported"),
    "bmp": (lambda: encode(halves((200, 200)), "BMP"), "format BMP is not supported"),
    "tiff": (lambda: encode(halves((200, 200)), "TIFF"), "format TIFF is not supported"),
    "16x16": (lambda: png_bytes((16, 16)), "at least 64 pixels"),
    "63x400": (lambda: png_bytes((63, 400)), "at least 64 pixels"),
    "49-megapixels": (lambda: png_declaring(7_000, 7_000), "megapixel limit"),
    "100-megapixels": (lambda: png_declaring(10_000, 10_000), "decompression bomb"),
    "6-MB": (big_png, "larger than 5 MB"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_check_image_refuses(case: str) -> None:
    make, message = BAD[case]
    with pytest.raises(InvalidImage, match=message) as err:
        check_image(make(), LIMITS)
    assert err.value.path == ["referenceImage"]


def test_check_image_refuses_a_decompression_bomb_quickly(bomb: bytes) -> None:
    start = time.monotonic()
    with pytest.raises(InvalidImage, match="decompression bomb"):
        check_image(bomb, LIMITS)
    assert time.monotonic() - start < 1  # refused from the header, never decoded


# process_image


def _process(data: bytes, mode: str = "optimize") -> images.ProcessedImage:
    return process_image(check_image(data, LIMITS), mode, LIMITS)


def _open(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def _is(pixel: Any, colour: tuple[int, int, int]) -> bool:
    assert isinstance(pixel, tuple), pixel
    return all(abs(a - b) < 40 for a, b in zip(pixel[:3], colour, strict=True))


@pytest.mark.parametrize(
    ("orientation", "size", "top"),
    [(1, (640, 480), None), (3, (640, 480), None), (6, (480, 640), RED), (8, (480, 640), BLUE)],
)
def test_optimize_applies_exif_orientation(
    orientation: int, size: tuple[int, int], top: tuple[int, int, int] | None
) -> None:
    processed = _process(jpeg_with_orientation(orientation))
    img = _open(processed.data)
    assert img.size == size == (processed.width, processed.height)
    assert processed.content_type == "image/jpeg" and img.format == "JPEG"
    assert img.getexif().get(0x0112) in (None, 1)  # no orientation left to apply twice
    if top is not None:  # turned a quarter: one colour on top, the other at the bottom
        assert _is(img.getpixel((size[0] // 2, 5)), top)
        assert not _is(img.getpixel((size[0] // 2, size[1] - 5)), top)
    elif orientation == 3:  # turned half-way: blue is now on the left
        assert _is(img.getpixel((5, size[1] // 2)), BLUE)
    for preview in (processed.preview, processed.reference_preview):
        small = _open(preview)
        assert max(small.size) == images.PREVIEW_SIDE
        assert (small.width > small.height) == (size[0] > size[1])


def test_none_keeps_the_image_as_given() -> None:
    data = jpeg_with_orientation(1)
    processed = _process(data, "none")
    assert processed.data == data
    assert (processed.content_type, processed.width, processed.height) == ("image/jpeg", 640, 480)
    png = encode(halves((100, 80)).convert("RGBA"), "PNG")
    kept = _process(png, "none")
    assert kept.data == png and kept.content_type == "image/png"
    assert (kept.source_width, kept.source_height) == (100, 80)


def test_none_stores_an_image_with_exif_orientation_upright() -> None:
    """The processed image is what analysis and rendering read: its pixels are upright, with no
    orientation tag left for one decoder to apply and another to ignore."""
    processed = _process(jpeg_with_orientation(6), "none")
    img = _open(processed.data)
    assert img.size == (480, 640) == (processed.width, processed.height)
    assert (processed.source_width, processed.source_height) == (480, 640)
    assert processed.content_type == "image/jpeg" and img.getexif().get(0x0112) in (None, 1)
    assert _is(img.getpixel((240, 5)), RED) and _is(img.getpixel((240, 634)), BLUE)
    # The previews show the image the way viewers display it (EXIF applied).
    assert _open(processed.preview).size == (288, 384)
    png = encode(halves((100, 80)), "PNG", exif=_exif(8))
    turned = _process(png, "none")
    assert turned.content_type == "image/png" and _open(turned.data).size == (80, 100)
    assert images.upright_size(png) == (80, 100)
    assert images.upright_size(jpeg_with_orientation(3)) == (640, 480)


def test_optimize_downsizes_to_the_processed_limit() -> None:
    processed = _process(encode(halves((3000, 1000)), "PNG"))
    assert (processed.width, processed.height) == (2048, 683)
    assert _open(processed.data).size == (2048, 683)
    assert _open(processed.preview).size == (384, 128)


def test_optimize_flattens_transparency_onto_white() -> None:
    img = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    img.paste((255, 0, 0, 255), (0, 0, 50, 100))
    processed = _open(_process(encode(img, "PNG")).data)
    assert processed.mode == "RGB"
    assert _is(processed.getpixel((75, 50)), (255, 255, 255))
    assert _is(processed.getpixel((25, 50)), (255, 0, 0))


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "I;16", "RGBA", "CMYK"])
def test_every_decodable_mode_processes_to_rgb_jpeg(mode: str) -> None:
    if mode == "I;16":  # 16-bit greyscale
        img = Image.new(mode, (120, 90), 40_000)
    else:
        img = halves((120, 90)).convert(mode)
    data = encode(img, "JPEG" if mode == "CMYK" else "PNG")
    processed = _process(data)
    out = _open(processed.data)
    assert out.mode == "RGB" and out.size == (120, 90)
    assert _open(_process(data, "none").preview).mode == "RGB"


# fetch_remote: addresses refused before any connection


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if fetch_remote gets as far as opening an HTTP client."""

    def refuse(*_a: Any, **_k: Any) -> None:
        raise AssertionError("fetch_remote opened an HTTP connection")

    monkeypatch.setattr(httpx, "Client", refuse)  # what fetch_remote uses


PRIVATE_URLS = [
    "https://127.0.0.1/face.png",
    "https://127.1.2.3:8443/face.png",
    "https://10.0.0.1/face.png",
    "https://172.16.5.4/face.png",
    "https://192.168.1.1/face.png",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/face.png",
    "https://0.0.0.0/face.png",
    "https://[::1]/face.png",
    "https://[::ffff:127.0.0.1]/face.png",
    "https://[fd00::1]/face.png",
    "https://[fe80::1]/face.png",
    "https://localhost/face.png",
    "https://LOCALHOST/face.png",
    "https://224.0.0.1/face.png",
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_private_addresses_are_refused_without_connecting(url: str, no_connections: None) -> None:
    with pytest.raises(InvalidImage, match="private, loopback or reserved") as err:
        fetch_remote(url, LIMITS, timeout_s=1, allow_private=False, allow_http=False)
    assert err.value.path == ["referenceImage"]


def test_a_name_resolving_to_a_private_address_is_refused(
    monkeypatch: pytest.MonkeyPatch, no_connections: None
) -> None:
    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        assert host == "images.example.com"
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port)),  # one bad record
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(InvalidImage, match="private"):
        fetch_remote(
            "https://images.example.com/face.png",
            LIMITS,
            timeout_s=1,
            allow_private=False,
            allow_http=False,
        )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://images.example.com/face.png", "must use https://"),
        ("ftp://images.example.com/face.png", "must use https://"),
        ("file:///etc/passwd", "must use https://"),
        ("https:///face.png", "has no host"),
    ],
)
def test_url_shape_is_checked_first(url: str, message: str, no_connections: None) -> None:
    with pytest.raises(InvalidImage, match=message):
        fetch_remote(url, LIMITS, timeout_s=1, allow_private=False, allow_http=False)


def test_unresolvable_host(monkeypatch: pytest.MonkeyPatch, no_connections: None) -> None:
    def resolve(*_a: Any, **_k: Any) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(InvalidImage, match="could not be resolved"):
        fetch_remote(
            "https://nowhere.example/face.png",
            LIMITS,
            timeout_s=1,
            allow_private=False,
            allow_http=False,
        )


# fetch_remote against a local HTTP server


FACE = face_png((320, 240), (150, 120, 100))
BIG = 6 * 1024 * 1024


class ImageHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hits: list[str] = []  # paths requested, across the module's one server

    def log_message(self, *_args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", headers.pop("content_type", "image/png"))
        for k, v in headers.items():
            self.send_header(k.replace("_", "-"), v)
        if "Transfer-Encoding" not in {k.replace("_", "-") for k in headers}:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.hits.append(self.path)
        try:
            self._route()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    def _route(self) -> None:
        path = self.path
        if path == "/face.png":
            self._send(200, FACE)
        elif path == "/redirect":
            self._send(302, b"", Location="/face.png")
        elif path == "/missing":
            self._send(404, b"not found", content_type="text/plain")
        elif path == "/big-declared":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(BIG))
            self.end_headers()
            for _ in range(BIG // 65536):
                self.wfile.write(b"\0" * 65536)
        elif path in ("/big-chunked", "/big-lying"):
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            if path == "/big-lying":  # claims a small body, sends on and on (then closes)
                self.send_header("Content-Length", "1000")
                self.send_header("Connection", "close")
                self.end_headers()
                for _ in range(BIG // 65536):
                    self.wfile.write(b"\0" * 65536)
                return
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(BIG // 65536):
                self.wfile.write(b"10000\r\n" + b"\0" * 65536 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/slow-headers":
            time.sleep(3)
            self._send(200, FACE)
        elif path == "/drip-headers":  # the status line, then a header byte every 0.3 s
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline:
                self.wfile.write(b"a")
                self.wfile.flush()
                time.sleep(0.3)
        elif path == "/drip":  # answers at once, then one body byte every 0.3 s
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(FACE)))
            self.end_headers()
            deadline = time.monotonic() + 8
            for byte in FACE:
                if time.monotonic() > deadline:
                    break
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.3)
        else:
            self._send(404, b"", content_type="text/plain")


@pytest.fixture(scope="module")
def image_host() -> Iterator[str]:
    """A plain-HTTP image server on loopback: ``http://127.0.0.1:PORT``."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), ImageHandler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _fetch(url: str, **kwargs: Any) -> bytes:
    options: dict[str, Any] = {"timeout_s": 1, "allow_private": True, "allow_http": True}
    options.update(kwargs)
    return fetch_remote(url, LIMITS, **options)


def test_fetch_remote_success(image_host: str) -> None:
    assert _fetch(image_host + "/face.png") == FACE


def test_fetch_remote_refuses_http_unless_allowed(image_host: str) -> None:
    with pytest.raises(InvalidImage, match="https://"):
        _fetch(image_host + "/face.png", allow_http=False)


def test_fetch_remote_refuses_loopback_unless_allowed(
    image_host: str, no_connections: None
) -> None:
    with pytest.raises(InvalidImage, match="private"):
        _fetch(image_host + "/face.png", allow_private=False)


REMOTE_FAILURES = {
    "/redirect": "redirects",
    "/missing": "HTTP 404",
    "/big-declared": "larger than 5 MB",
    "/big-chunked": "larger than 5 MB",
    "/slow-headers": "within 1 s",
    "/drip": "within 1 s",
    "/drip-headers": "within 1 s",
}


@pytest.mark.parametrize("path", list(REMOTE_FAILURES))
def test_fetch_remote_refuses(image_host: str, path: str) -> None:
    start = time.monotonic()
    with pytest.raises(InvalidImage, match=REMOTE_FAILURES[path]):
        _fetch(image_host + path)
    assert time.monotonic() - start < 3.5  # a slow server cannot hold the fetch much past 1 s


def test_fetch_remote_reads_no_more_than_declared(image_host: str) -> None:
    assert len(_fetch(image_host + "/big-lying")) == 1000


def test_fetch_remote_checks_the_address_actually_connected_to(
    image_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the check resolves a public address, the connection gets loopback."""
    real = socket.getaddrinfo
    calls: list[str] = []

    def rebinding(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host == "rebind.example":
            calls.append(host)
            if len(calls) == 1:
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]
            host = "127.0.0.1"
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    port = image_host.rsplit(":", 1)[1]
    with pytest.raises(InvalidImage, match="private"):
        _fetch(f"http://rebind.example:{port}/rebound.png", allow_private=False)
    assert len(calls) == 2
    assert "/rebound.png" not in ImageHandler.hits  # refused before the request was sent


# Through the API: every bad image is a 400 and leaves nothing behind.


def _db_url(server: Server) -> str:
    url = server.env.get("CHARACTERS_DATABASE_URL") or f"sqlite:///{server.data_dir}/characters.db"
    return sync_url(async_url(url))


def _scalar(server: Server, sql: str, **params: Any) -> Any:
    engine = create_engine(_db_url(server))
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def _stored(server: Server) -> tuple[int, int, frozenset[str]]:
    """(avatar rows, blob rows, blob files) of the whole server."""
    files = frozenset(
        str(p.relative_to(server.data_dir)) for p in (server.data_dir / "blobs").rglob("*")
    )
    return (
        _scalar(server, "SELECT count(*) FROM avatars"),
        _scalar(server, "SELECT count(*) FROM blobs"),
        files,
    )


def _create(client: Any, reference: str, **kwargs: Any) -> Any:
    return client.avatars.create(
        name="Ada",
        personality="A friendly guide.",
        reference_image=reference,
        voice=VOICE,
        **kwargs,
    )


def assert_refused(server: Server, client: Any, reference: str, message: str) -> str:
    before = _stored(server)
    with pytest.raises(runwayml.BadRequestError) as err:
        _create(client, reference)
    body = err.value.body
    assert isinstance(body, dict), body
    assert message.lower() in body["error"].lower(), body
    assert list(client.avatars.list(limit=10)) == []
    assert _stored(server) == before
    return str(body["error"])


API_BAD: dict[str, tuple[Callable[[], str], str]] = {
    "truncated-png": (lambda: data_uri(_truncated("PNG")), "truncated or corrupt"),
    "truncated-jpeg": (lambda: data_uri(_truncated("JPEG"), "image/jpeg"), "truncated or corrupt"),
    "not-an-image": (lambda: data_uri(b"MZ\x90\x00" + bytes(2000)), "could not be read"),
    "bomb": (lambda: data_uri(png_declaring(30_000, 30_000)), "decompression bomb"),
    "49-megapixels": (lambda: data_uri(png_declaring(7_000, 7_000)), "megapixel limit"),
    "6-MB-data-uri": (lambda: data_uri(big_png()), "referenceImage"),
    "svg": (lambda: data_uri(SVG, "image/svg+xml"), "SVG"),
    "gif": (lambda: data_uri(encode(halves((200, 200)), "GIF"), "image/gif"), "GIF"),
    "16x16": (lambda: data_uri(png_bytes((16, 16))), "at least 64 pixels"),
    "bad-base64": (lambda: "data:image/png;base64,!!!!not base64!!!!", "invalid base64"),
    "not-base64-encoded": (lambda: "data:image/png,rawbytes-here", "base64"),
    "text-data-uri": (
        lambda: "data:text/plain;base64," + base64.b64encode(b"hello").decode(),
        "image/*",
    ),
    "http-url": (lambda: "http://images.example.com/face.png", "https://"),
    "https-127.0.0.1": (lambda: "https://127.0.0.1/face.png", "private"),
    "https-10.0.0.1": (lambda: "https://10.0.0.1/face.png", "private"),
    "https-::1": (lambda: "https://[::1]/face.png", "private"),
    "https-localhost": (lambda: "https://localhost/face.png", "private"),
    "https-metadata": (lambda: "https://169.254.169.254/latest/meta-data/", "private"),
    "runway-unknown-upload": (
        lambda: "runway://uploads/7b0c1a52-4a7f-4c35-9c39-2f0f1f6d1a11",
        "not found",
    ),
    "runway-not-an-upload": (lambda: "runway://something/else", "not an upload URI"),
    "ftp-url": (lambda: "ftp://images.example.com/face.png", "must be an https:// URL"),
}


@pytest.fixture(scope="module")
def refused_client(server: Server) -> Any:
    """One organisation for all refusals (each test checks it still has no avatars)."""
    return server.sdk(server.create_key("refusals", "--tier", "2"), max_retries=0)


@pytest.mark.store
@pytest.mark.slow
@pytest.mark.parametrize("case", list(API_BAD))
def test_api_refuses_bad_reference_images(server: Server, refused_client: Any, case: str) -> None:
    make, message = API_BAD[case]
    start = time.monotonic()
    assert_refused(server, refused_client, make(), message)
    assert time.monotonic() - start < 5  # refusals are quick (no network for private URLs)


@pytest.mark.store
@pytest.mark.slow
def test_api_refuses_a_6_mb_upload(server: Server, refused_client: Any) -> None:
    uri = refused_client.uploads.create_ephemeral(file=("big.png", big_png(), "image/png")).uri
    error = assert_refused(server, refused_client, uri, "larger than 5 MB")
    assert "JPEG, PNG or WebP" in error


@pytest.mark.store
@pytest.mark.slow
def test_api_refuses_another_organisations_upload(server: Server, client: Any) -> None:
    other = server.sdk(server.create_key("other", "--tier", "2"), max_retries=0)
    uri = other.uploads.create_ephemeral(file=("face.png", face_png(), "image/png")).uri
    assert_refused(server, client, uri, "not found")
    # ... while it works for its owner.
    assert ready_avatar(other, uri).status == "READY"


@pytest.mark.store
@pytest.mark.slow
def test_api_refuses_a_bad_image_on_update_and_keeps_the_old_one(
    server: Server, client: Any
) -> None:
    avatar = ready_avatar(client, data_uri(face_png()))
    before = _stored(server)
    with pytest.raises(runwayml.BadRequestError) as err:
        client.avatars.update(avatar.id, reference_image=data_uri(_truncated("PNG")))
    body = err.value.body
    assert isinstance(body, dict) and "truncated or corrupt" in body["error"]
    assert _stored(server) == before
    after = client.avatars.retrieve(avatar.id)
    assert after.status == "READY" and after.updated_at == avatar.updated_at


def _fetch_image(uri: str) -> Image.Image:
    resp = httpx.get(uri, timeout=10)
    assert resp.status_code == 200, resp.text
    return _open(resp.content)


def jpeg_face_with_orientation(orientation: int) -> bytes:
    """A portrait 480x640 as viewers show it, stored turned a quarter with EXIF orientation 6
    (or as given with 1)."""
    upright = Image.open(io.BytesIO(face_png((480, 640)))).convert("RGB")
    raw = upright.transpose(Image.Transpose.ROTATE_90) if orientation == 6 else upright
    return encode(raw, "JPEG", quality=95, exif=_exif(orientation))


def _face(server: Server, avatar_id: str) -> dict[str, Any]:
    value = _scalar(server, "SELECT face FROM avatars WHERE id = :id", id=avatar_id)
    return json.loads(value) if isinstance(value, str) else dict(value)


def _assert_upright_face(server: Server, avatar_id: str) -> None:
    """The face was analysed on the upright portrait: 480x640, eyes above the mouth."""
    face = _face(server, avatar_id)
    assert face["image"] == {"width": 480, "height": 640}
    v = face["mesh"]["vertices"]
    assert v[468][1] < v[13][1] < v[152][1]


@pytest.mark.store
@pytest.mark.slow
def test_api_applies_exif_orientation(server: Server, client: Any) -> None:
    avatar = ready_avatar(client, data_uri(jpeg_face_with_orientation(6), "image/jpeg"))
    assert avatar.status == "READY", avatar.failure_reason
    for uri in (avatar.processed_image_uri, avatar.reference_image_uri):
        assert _fetch_image(uri).size == (288, 384)  # 640x480 turned upright, previewed at 384
    _assert_upright_face(server, avatar.id)


def _processed_sha(server: Server, avatar_id: str) -> str:
    return str(
        _scalar(
            server,
            "SELECT b.sha256 FROM avatars a JOIN blobs b ON b.id = a.processed_blob_id "
            "WHERE a.id = :id",
            id=avatar_id,
        )
    )


@pytest.mark.store
@pytest.mark.slow
def test_api_image_processing_none_keeps_the_image(server: Server, client: Any) -> None:
    data = jpeg_face_with_orientation(1)
    avatar = ready_avatar(client, data_uri(data, "image/jpeg"), image_processing="none")
    assert avatar.status == "READY", avatar.failure_reason
    assert _processed_sha(server, avatar.id) == hashlib.sha256(data).hexdigest()  # as given
    reference = _scalar(
        server,
        "SELECT reference_blob_id = processed_blob_id FROM avatars WHERE id = :id",
        id=avatar.id,
    )
    assert reference
    # With an EXIF orientation to apply, the image is stored upright (once, for every reader).
    turned = jpeg_face_with_orientation(6)
    avatar = ready_avatar(client, data_uri(turned, "image/jpeg"), image_processing="none")
    assert avatar.status == "READY", avatar.failure_reason
    sha = _processed_sha(server, avatar.id)
    assert sha != hashlib.sha256(turned).hexdigest()
    stored = _open((server.data_dir / "blobs" / sha[:2] / sha).read_bytes())
    assert stored.size == (480, 640) and stored.getexif().get(0x0112) in (None, 1)
    _assert_upright_face(server, avatar.id)
    # The preview is shown upright, as any viewer would show the JPEG.
    assert _fetch_image(avatar.processed_image_uri).size == (288, 384)
    # optimize stores a re-encoded image instead.
    optimized = ready_avatar(client, data_uri(data, "image/jpeg"))
    assert _processed_sha(server, optimized.id) != hashlib.sha256(data).hexdigest()


# Through the API: remote reference images (loopback and http allowed for the test).


@pytest.mark.store
@pytest.mark.slow
def test_api_remote_reference_images(
    server_factory: Callable[..., Server], image_host: str
) -> None:
    """A remote image is fetched and stored; redirects, errors, oversize and slow servers are
    refused. (Loopback and http:// are allowed for this server only.)"""
    srv = server_factory(
        ALLOW_PRIVATE_URLS="true", ALLOW_HTTP_URLS="true", REMOTE_FETCH_TIMEOUT_S="1"
    )
    client = srv.sdk(srv.create_key("remote", "--tier", "2"), max_retries=0)
    for path, message in REMOTE_FAILURES.items():
        start = time.monotonic()
        assert_refused(srv, client, image_host + path, message)
        assert time.monotonic() - start < 4, path

    avatar = ready_avatar(client, image_host + "/face.png")
    assert avatar.status == "READY"
    digest = hashlib.sha256(FACE).hexdigest()
    assert (srv.data_dir / "blobs" / digest[:2] / digest).read_bytes() == FACE
    assert _fetch_image(avatar.reference_image_uri).size == (320, 240)
