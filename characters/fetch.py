"""Downloading user-given URLs safely: https only, no redirects, public addresses, hard limits.

Also decodes the ``data:`` URIs those fields accept. Used for reference images
(``characters.avatars.images``) and speech audio (``POST /v1/avatar_videos``). Synchronous; callers run it in a worker thread. Every rejection
is an :class:`~characters.errors.InvalidInput` (or the subclass the caller names) whose message
names the request field and says what to fix.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import ipaddress
import socket
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from characters.errors import InvalidInput


def check_address(
    ip: str,
    allow_private: bool,
    field: str,
    error: type[InvalidInput] = InvalidInput,
    path: Sequence[str | int] | None = None,
) -> None:
    """Refuse private, loopback, link-local, reserved and multicast addresses."""
    addr = ipaddress.ip_address(ip.split("%")[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    if allow_private:
        return
    if not addr.is_global or addr.is_multicast:
        raise error(
            f"{field} URL points to a private, loopback or reserved address, which this "
            "server does not fetch (set CHARACTERS_ALLOW_PRIVATE_URLS=true to allow it).",
            list(path) if path is not None else [field],
        )


def fetch_url(
    url: str,
    *,
    field: str,
    noun: str,
    accept: str,
    max_bytes: int,
    too_big: str,
    timeout_s: float,
    allow_private: bool,
    allow_http: bool,
    error: type[InvalidInput] = InvalidInput,
    path: Sequence[str | int] | None = None,
) -> bytes:
    """Download ``url`` (the request field ``field``, holding ``noun``: "image", "audio").

    At most ``max_bytes`` (else ``too_big`` is the message) within ``timeout_s`` for the whole
    download; ``https`` only unless ``allow_http``; the host must resolve to public addresses
    only, and the address actually connected to is checked again (DNS rebinding). ``path`` is
    the field's location in the request body for error issues (default ``[field]``).
    """
    path = list(path) if path is not None else [field]
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_http and parts.scheme == "http"):
        raise error(f"{field} URLs must use https://.", path)
    host = parts.hostname
    if not host:
        raise error(f"{field} URL has no host.", path)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as e:
        raise error(f"{field} URL has an invalid port.", path) from e
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise error(f"{field} URL host {host!r} could not be resolved.", path) from e
    for info in infos:
        check_address(str(info[4][0]), allow_private, field, error, path)

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
                server_addr = str(stream.get_extra_info("server_addr")[0])
                check_address(server_addr, allow_private, field, error, path)
            if expired.is_set():
                expire()

    late = f"{field} URL did not deliver the {noun} within {timeout_s:g} s."
    watchdog = threading.Timer(timeout_s, expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        with (
            httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False) as client,
            client.stream(
                "GET", url, headers={"Accept": accept}, extensions={"trace": trace}
            ) as resp,
        ):
            if resp.is_redirect:
                raise error(f"{field} URL redirects; give the final URL.", path)
            if resp.status_code != 200:
                raise error(
                    f"{field} URL answered HTTP {resp.status_code}; it must return the "
                    f"{noun} with status 200.",
                    path,
                )
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise error(too_big, path)
            chunks, total = [], 0
            for chunk in resp.iter_bytes():
                total += len(chunk)
                if total > max_bytes:
                    raise error(too_big, path)
                chunks.append(chunk)
    except httpx.HTTPError as e:
        if isinstance(e, httpx.TimeoutException) or expired.is_set():
            raise error(late, path) from e
        raise error(f"{field} URL could not be fetched ({type(e).__name__}).", path) from e
    finally:
        watchdog.cancel()
        for sock in sockets:
            sock.close()
    if expired.is_set():  # the deadline passed as the last bytes arrived
        raise error(late, path)
    return b"".join(chunks)


def decode_data_uri(
    uri: str,
    *,
    field: str,
    media: str,
    max_bytes: int,
    too_big: str,
    error: type[InvalidInput] = InvalidInput,
    path: Sequence[str | int] | None = None,
) -> bytes:
    """``data:<media>/...;base64,...`` → bytes, refusing more than ``max_bytes`` (``too_big`` is
    the message) before decoding. The media type itself is the caller's to check."""
    path = list(path) if path is not None else [field]
    header, sep, payload = uri.partition(",")
    if not sep or not header.startswith("data:"):
        raise error(
            f"{field} is not a valid data URI (expected 'data:{media}/...;base64,...').", path
        )
    if not header.endswith(";base64"):
        raise error(f"{field} data URIs must be base64-encoded (';base64,').", path)
    if len(payload) > (max_bytes * 4) // 3 + 8:
        raise error(too_big, path)
    try:
        return base64.b64decode(payload.strip(), validate=True)
    except (binascii.Error, ValueError) as e:
        raise error(f"{field} data URI holds invalid base64.", path) from e
