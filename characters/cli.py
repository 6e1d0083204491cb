"""The ``characters`` command: ``serve``, ``keys``, ``orgs``, ``db``, ``render``, ``chat``,
``voices`` and ``models``.

Every command but ``render`` reads the same settings as the server: ``--data-dir`` /
``CHARACTERS_DATA_DIR`` and ``--database-url`` / ``CHARACTERS_DATABASE_URL`` (plus the other
``CHARACTERS_*`` variables).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from characters import __version__
from characters.config import TIERS, Settings, load_settings
from characters.conversation.commands import chat
from characters.errors import CharactersError
from characters.models.commands import models
from characters.store.db import Database
from characters.voices.commands import voices
from characters.voices.presets import PRESET_IDS

T = TypeVar("T")

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the database, files and models [env CHARACTERS_DATA_DIR; default ./data].",
)
database_option = click.option(
    "--database-url",
    default=None,
    help="SQLAlchemy URL, e.g. postgresql://user:pass@host/db [env CHARACTERS_DATABASE_URL; "
    "default: SQLite in the data dir].",
)


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def settings_from(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except ValidationError as e:
        err = e.errors()[0]
        fail(f"invalid setting {'.'.join(str(p) for p in err['loc'])}: {err['msg']}")
        raise AssertionError from e  # unreachable: fail() exits


def run_db(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Open the database (migrating it), run ``work`` in one transaction, close; errors become
    one line on stderr and exit code 1."""

    async def main() -> T:
        settings.ensure_dirs()
        db = Database(settings.resolved_database_url)
        try:
            await db.migrate()
            async with db.transaction() as session:
                return await work(session)
        finally:
            await db.aclose()

    try:
        return asyncio.run(main())
    except CharactersError as e:
        fail(e.message)
    except (SQLAlchemyError, OSError) as e:
        fail(f"database error: {str(e).splitlines()[0]}")
    raise AssertionError("unreachable")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="characters")
def main() -> None:
    """Characters: self-hosted realtime conversational video avatars.

    Start the server with `characters serve`, then create an API key with
    `characters keys create --name NAME`.
    """


@main.command()
@click.option(
    "--host", default=None, help="Address to listen on [env CHARACTERS_HOST; default 127.0.0.1]."
)
@click.option(
    "--port", type=int, default=None, help="Port to listen on [env CHARACTERS_PORT; default 8000]."
)
@data_dir_option
@database_option
@click.option(
    "--public-url",
    default=None,
    help="Base URL clients use to reach this server, for upload and media links "
    "[env CHARACTERS_PUBLIC_URL; default: from each request's Host header].",
)
@click.option(
    "--log-level",
    default=None,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    help="Log verbosity [env CHARACTERS_LOG_LEVEL; default info].",
)
def serve(**options: Any) -> None:
    """Run the API server (migrations are applied on start)."""
    import uvicorn

    from characters.api.app import create_app

    settings = settings_from(**options)
    settings.ensure_dirs()
    # The server's own messages (calls starting and ending, with their figures) at the chosen
    # level; the WebRTC libraries only when something is wrong.
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s:     %(name)s: %(message)s"
    )
    for noisy in ("aiortc", "aioice"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    click.echo(
        f"characters {__version__}: data in {settings.data_dir.resolve()}, "
        f"listening on http://{settings.host}:{settings.port}",
        err=True,
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        proxy_headers=True,
    )


@main.command()
@data_dir_option
@database_option
@click.option(
    "--calls",
    "worker_calls",
    type=click.IntRange(1, 100),
    default=None,
    help="Calls this worker takes at once [env CHARACTERS_WORKER_CALLS; default 1].",
)
@click.option(
    "--name",
    "node_name",
    default=None,
    help="This worker's name in the database, unique per worker [env CHARACTERS_NODE_NAME; "
    "default <hostname>:worker].",
)
@click.option(
    "--log-level",
    default=None,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    help="Log verbosity [env CHARACTERS_LOG_LEVEL; default info].",
)
def worker(**options: Any) -> None:
    """Run calls that a LiveKit server assigns to this machine (LiveKit mode, scale-out).

    \b
    Needs CHARACTERS_LIVEKIT_URL, _API_KEY and _API_SECRET, and the API servers' database and
    data dir (shared storage). The API servers run with CHARACTERS_LIVEKIT_WORKERS=true.
    SIGTERM or Ctrl-C drains: no new calls, the running ones finish. See docs/livekit.md.
    """
    import socket

    from characters.realtime.worker import CallWorker

    settings = settings_from(**options)
    if settings.node_name is None:  # not the API server's default (<hostname>:<port>)
        settings = settings.model_copy(update={"node_name": f"{socket.gethostname()}:worker"})
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s:     %(name)s: %(message)s"
    )
    try:
        runner = CallWorker(settings)
    except ValueError as e:
        fail(str(e))
    click.echo(
        f"characters {__version__} worker {settings.node}: data in "
        f"{settings.data_dir.resolve()}, calls from {settings.livekit_url}",
        err=True,
    )
    try:
        asyncio.run(runner.run())
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # the LiveKit server refused the worker, the database is gone, ...
        fail(f"the worker stopped: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")


@main.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.option("--name", required=True, help="A label for the key (and its new organisation).")
@click.option(
    "--tier",
    type=click.IntRange(min(TIERS), max(TIERS)),
    default=None,
    help="Tier of the new organisation [default CHARACTERS_DEFAULT_TIER or 1].",
)
@click.option(
    "--credits",
    type=click.IntRange(min=0),
    default=None,
    help="Starting credit balance [default CHARACTERS_DEFAULT_CREDITS or 10000].",
)
@click.option(
    "--org",
    "organization_id",
    default=None,
    help="Add the key to this existing organisation instead of creating one.",
)
@data_dir_option
@database_option
def keys_create(
    name: str,
    tier: int | None,
    credits: int | None,
    organization_id: str | None,
    data_dir: Path | None,
    database_url: str | None,
) -> None:
    """Create an API key. The key is printed once, alone on the last line of stdout."""
    from characters.store.keys import create_key

    settings = settings_from(data_dir=data_dir, database_url=database_url)

    async def work(session: AsyncSession) -> Any:
        return await create_key(
            session,
            name=name,
            tier=tier or settings.default_tier,
            credits=settings.default_credits if credits is None else credits,
            organization_id=organization_id,
        )

    created = run_db(settings, work)
    org = created.organization
    click.echo(f"key id:        {created.row.id}")
    click.echo(
        f"organisation:  {org.id} ({org.name}, tier {org.tier}, {org.credit_balance} credits)"
    )
    click.echo("This key is shown only once. Store it now:")
    click.echo(created.key)


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@data_dir_option
@database_option
def keys_list(as_json: bool, data_dir: Path | None, database_url: str | None) -> None:
    """List API keys (their prefixes only; keys themselves are not stored)."""
    from characters.store.keys import list_keys

    settings = settings_from(data_dir=data_dir, database_url=database_url)

    async def work(session: AsyncSession) -> Any:
        return await list_keys(session)

    rows = run_db(settings, work)
    items = [
        {
            "id": k.id,
            "name": k.name,
            "prefix": k.key_prefix,
            "organizationId": o.id,
            "tier": o.tier,
            "credits": o.credit_balance,
            "createdAt": k.created_at.isoformat(),
            "revoked": k.revoked_at is not None,
        }
        for k, o in rows
    ]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    if not items:
        click.echo("No API keys. Create one with `characters keys create --name NAME`.")
        return
    click.echo(f"{'ID':36}  {'PREFIX':12}  {'NAME':20}  {'ORGANISATION':36}  STATE")
    for i in items:
        state = "revoked" if i["revoked"] else "active"
        click.echo(
            f"{i['id']:36}  {i['prefix']:12}  {i['name'][:20]:20}  {i['organizationId']:36}  {state}"
        )


@keys.command("revoke")
@click.argument("key_id")
@data_dir_option
@database_option
def keys_revoke(key_id: str, data_dir: Path | None, database_url: str | None) -> None:
    """Revoke the key with id KEY_ID (or a unique key prefix such as key_1a2b3c4d)."""
    from characters.store.keys import revoke_key

    settings = settings_from(data_dir=data_dir, database_url=database_url)

    async def work(session: AsyncSession) -> Any:
        return (await revoke_key(session, key_id)).id

    click.echo(f"revoked {run_db(settings, work)}")


@main.group()
def orgs() -> None:
    """Change an organisation's tier or credits (`keys list` shows organisation ids)."""


@orgs.command("set")
@click.argument("organization_id")
@click.option("--tier", type=click.IntRange(min(TIERS), max(TIERS)), default=None, help="New tier.")
@click.option("--credits", type=click.IntRange(min=0), default=None, help="Set the credit balance.")
@click.option(
    "--add-credits", type=int, default=None, help="Add (or, if negative, remove) credits."
)
@data_dir_option
@database_option
def orgs_set(
    organization_id: str,
    tier: int | None,
    credits: int | None,
    add_credits: int | None,
    data_dir: Path | None,
    database_url: str | None,
) -> None:
    """Change an organisation's tier or credit balance."""
    from characters.errors import NotFound
    from characters.store.tables import Organization

    settings = settings_from(data_dir=data_dir, database_url=database_url)
    if tier is None and credits is None and add_credits is None:
        fail("give --tier, --credits or --add-credits")

    async def work(session: AsyncSession) -> Any:
        org = await session.get(Organization, organization_id, with_for_update=True)
        if org is None:
            raise NotFound(f"no organisation with id {organization_id}")
        if tier is not None:
            org.tier = tier
        if credits is not None:
            org.credit_balance = credits
        if add_credits is not None:
            org.credit_balance = max(0, org.credit_balance + add_credits)
        return org.tier, org.credit_balance

    new_tier, balance = run_db(settings, work)
    click.echo(f"{organization_id}: tier {new_tier}, {balance} credits")


@orgs.command("webhooks")
@click.argument("organization_id")
@click.option("--url", default=None, help="https:// URL for session events ('' removes it).")
@click.option(
    "--backend-rpc-url",
    default=None,
    help="https:// URL for backend_rpc tool calls ('' removes it).",
)
@click.option("--rotate-secret", is_flag=True, help="Replace the signing secret.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@data_dir_option
@database_option
def orgs_webhooks(
    organization_id: str,
    url: str | None,
    backend_rpc_url: str | None,
    rotate_secret: bool,
    as_json: bool,
    data_dir: Path | None,
    database_url: str | None,
) -> None:
    """Show or set an organisation's webhooks: session events, backend RPC, signing secret
    (the same as PUT /v1/organization/webhooks; docs/actions.md)."""
    from characters.errors import NotFound
    from characters.store.tables import Organization
    from characters.webhooks.config import UNCHANGED, config_wire, update_config

    settings = settings_from(data_dir=data_dir, database_url=database_url)
    change = url is not None or backend_rpc_url is not None or rotate_secret

    async def work(session: AsyncSession) -> Any:
        if change:
            org = await update_config(
                session,
                organization_id,
                url=UNCHANGED if url is None else (url or None),
                backend_rpc_url=UNCHANGED if backend_rpc_url is None else (backend_rpc_url or None),
                rotate_secret=rotate_secret,
                allow_http_loopback=settings.webhook_allow_http_loopback,
            )
            return config_wire(org)
        found = await session.get(Organization, organization_id)
        if found is None:
            raise NotFound(f"no organisation with id {organization_id}")
        return config_wire(found)

    config = run_db(settings, work)
    if as_json:
        click.echo(json.dumps(config, indent=2))
        return
    click.echo(f"session events:  {config['url'] or '(none)'}")
    click.echo(f"backend RPC:     {config['backendRpcUrl'] or '(none)'}")
    click.echo(f"signing secret:  {config['secret'] or '(none yet)'}")


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@data_dir_option
@database_option
def db_upgrade(data_dir: Path | None, database_url: str | None) -> None:
    """Apply pending schema migrations (serve does this on start)."""
    settings = settings_from(data_dir=data_dir, database_url=database_url)

    async def work(_session: AsyncSession) -> None:
        return None

    run_db(settings, work)
    click.echo("database is up to date")


@main.command()
@click.option(
    "--image",
    "-i",
    "image_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Reference image (JPEG, PNG or WebP) showing one face.",
)
@click.option("--text", "-t", help="What the face says, spoken by --voice.")
@click.option(
    "--audio",
    "-a",
    "audio_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Recorded speech to lip-sync instead of --text: WAV (any sample rate or channels), "
    "MP3, M4A/AAC, OGG, FLAC or WebM.",
)
@click.option(
    "--voice",
    "-v",
    default=None,
    metavar="PRESET",
    help="Preset voice for --text [default vincent]: one of " + ", ".join(PRESET_IDS) + ".",
)
@click.option(
    "--keypoints",
    "-k",
    "keypoints_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON file of manual face keypoints (eyes, mouth corners, lips, chin, face outline) "
    "for drawn or stylised faces the detector misses, in pixels of the image; the format is "
    "described in docs/face-keypoints.md.",
)
@click.option(
    "--fps",
    type=click.FloatRange(1, 60),
    default=25.0,
    show_default=True,
    help="Frames per second.",
)
@click.option(
    "--orientation",
    type=click.Choice(["auto", "landscape", "portrait"]),
    default="auto",
    show_default=True,
    help="Frame size: landscape 1088x704, portrait 704x1088, or auto (landscape for images at "
    "least 1.2 times wider than tall).",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the blinks and head motion."
)
@click.option(
    "--output",
    "-o",
    "output_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The MP4 file to write (replaced if it exists).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress output on stderr.")
def render(**options: Any) -> None:
    """Render a video of the face in an image saying a text or an audio recording.

    \b
    Examples:
      characters render --image face.png --text "Hello there" --voice vincent -o out.mp4
      characters render --image face.png --audio speech.wav -o out.mp4
      characters render -i cartoon.png -k points.json -t "Hi!" -o cartoon.mp4

    The MP4 holds H.264 video (yuv420p) and AAC audio in sync, with 0.3 s of idle face before
    and after the speech. Text is spoken offline with Piper. Progress goes to stderr; the path
    of the finished video is printed on stdout.
    """
    from characters.render.command import render_command

    render_command(**options)


@main.command()
@click.argument("avatar_id", required=False)
@click.option(
    "--audio",
    "-a",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A recording to play as the microphone (WAV, MP3, OGG, FLAC, M4A or WebM); repeat for "
    "several turns. Each is played in real time, then the answer is awaited.",
)
@click.option(
    "--text",
    "-t",
    "texts",
    multiple=True,
    help="A message to type (sent on the events channel after the recordings); repeatable.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write what was received (the character's video and voice) to this MP4.",
)
@click.option(
    "--events",
    "events_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write every event received (JSON lines, with its time since the offer).",
)
@click.option(
    "--key",
    default=None,
    help="API key that creates the session [env CHARACTERS_API_KEY or RUNWAYML_API_SECRET].",
)
@click.option(
    "--base-url",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="The server (for AVATAR_ID with --key).",
)
@click.option("--url", default=None, help="Join with a consume's url instead (with --token).")
@click.option("--token", default=None, help="The consume's token (with --url).")
@click.option(
    "--max-duration",
    type=click.IntRange(10, 1800),
    default=None,
    help="The session's maxDuration in seconds [default: the server's, 300].",
)
@click.option(
    "--answer-timeout",
    "answer_timeout_s",
    type=click.FloatRange(1, 600),
    default=60.0,
    show_default=True,
    help="Seconds to wait for each answer.",
)
@click.option(
    "--codec",
    type=click.Choice(["vp8", "h264"]),
    default="vp8",
    show_default=True,
    help="Video codec to offer: vp8 (VP8, H.264 as fallback) or h264 (H.264 only, as Safari may). "
    "WebRTC only (LiveKit negotiates its own).",
)
@click.option(
    "--hang-up",
    type=click.Choice(["delete", "end-call"]),
    default="delete",
    show_default=True,
    help="End with DELETE on the call's address (WHIP; in LiveKit mode: leave the room) or an "
    "END_CALL message.",
)
def call(avatar_id: str | None, **options: Any) -> None:
    """Talk with a character in a live call over WebRTC, from the terminal.

    \b
    Examples:
      characters call AVATAR_ID --key KEY -t "When are you open?" -o call.mp4
      characters call AVATAR_ID --audio question.wav --events events.jsonl -o call.mp4
      characters call --url URL --token TOKEN -t "Hi"      (credentials from a consume)

    It connects as a browser would (the WHIP offer, the events channel; or, when the server is
    in LiveKit mode and consume returns a ws:// or wss:// url, the LiveKit room), listens to
    the start script, then plays each recording as the microphone and sends each text, waiting
    for each answer; the conversation is printed as it is heard.
    """
    from characters.realtime.commands import call_command

    call_command(avatar_id=avatar_id, **options)


main.add_command(chat)
main.add_command(voices)
main.add_command(models)
