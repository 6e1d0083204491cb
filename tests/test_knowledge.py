"""The knowledge base end to end: a real server (SQLite, or PostgreSQL in CI), the official SDK,
the real embedding model, and the real language model through ``characters chat``.

A character is given documents with facts no model can know (invented here), one of them an
uploaded PDF; it answers from them, declines what they do not say, and answers differently in
the next session after a document changes. Limits answer 400 naming the totals; deleting a
document deletes its passages."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import runwayml
from sqlalchemy import create_engine, text

from characters.config import sync_url
from tests.conftest import Server, ServerFactory, data_uri, face_png, ready_avatar
from tests.pdf import text_pdf

pytestmark = [pytest.mark.store, pytest.mark.slow]

OBSERVATORY = """# Glimmerfen Observatory

## Telescopes
The main telescope is the Orrin Reflector, a 1.2 metre mirror built in 1931 by Ada Kestrel.

## Visits
A night tour costs 17 dollars and starts at 9:30 pm. The observatory is closed on Wednesdays.
"""
PDF_TEXT = """Glimmerfen Observatory - staff notes

The observatory cat is called Nebula. She sleeps in the dome of the solar telescope.
The night guide is Tomas Reyes, who has worked here since 2009.
"""
PERSONALITY = "You are Ada, the guide of Glimmerfen Observatory."
UNKNOWN_LINE = "I'm sorry, I don't have any information about that."


def chat(server: Server, avatar_id: str, *questions: str) -> list[str]:
    """``characters chat`` (a new session each time) with ``questions``; the answers."""
    args = [a for question in questions for a in ("-t", question)]
    r = subprocess.run(
        [sys.executable, "-m", "characters", "chat", avatar_id, "--no-start-script", *args],
        env={**server.env, "CHARACTERS_LLM_TEMPERATURE": "0"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    answers = [
        line.split(":", 1)[1].strip() for line in r.stdout.splitlines() if line.startswith("Ada:")
    ]
    assert len(answers) == len(questions), r.stdout
    return answers


def sql(server: Server, statement: str, doc_id: str) -> Any:
    """Run one statement on the server's database (SQLite file or PostgreSQL)."""
    url = server.env.get("CHARACTERS_DATABASE_URL") or f"sqlite:///{server.data_dir}/characters.db"
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), {"id": doc_id})
            return result.scalar_one() if result.returns_rows else None
    finally:
        engine.dispose()


def chunks(server: Server, doc_id: str) -> int:
    return int(sql(server, "SELECT count(*) FROM document_chunks WHERE document_id = :id", doc_id))


def pdf_document(client: Any, name: str, body: str) -> Any:
    up = client.uploads.create_ephemeral(file=("notes.pdf", text_pdf(body)))
    return client.documents.create(name=name, content=None, extra_body={"file": up.uri})  # type: ignore[arg-type]


@pytest.mark.timeout(900)  # three `characters chat` runs, each loading the models
def test_a_character_answers_from_its_documents_and_a_change_shows_next_session(
    server: Server,
) -> None:
    client = server.sdk(server.create_key("kb", "--tier", "2"), max_retries=0)
    guide = client.documents.create(name="Visitor guide", content=OBSERVATORY)
    notes = pdf_document(client, "Staff notes", PDF_TEXT)
    assert notes.type == "file" and "Nebula" in notes.content
    assert chunks(server, guide.id) >= 2 and chunks(server, notes.id) >= 1
    avatar = ready_avatar(
        client,
        data_uri(face_png()),
        name="Ada",
        personality=PERSONALITY,
        document_ids=[guide.id, notes.id],
    )
    used = client.documents.retrieve(guide.id).used_by
    assert [(u.id, u.name) for u in used] == [(avatar.id, "Ada")]
    assert used[0].image_url and used[0].image_url.startswith(server.base_url)

    telescope, price, cat, shop = chat(
        server,
        avatar.id,
        "What is your main telescope called?",
        "How much is a night tour?",
        "What is the observatory cat called?",
        "Do you sell souvenir mugs?",
    )
    assert "orrin" in telescope.lower(), telescope
    assert "17" in price or "seventeen" in price.lower(), price
    assert "nebula" in cat.lower(), cat
    assert shop == UNKNOWN_LINE, "nothing says so: declined, nothing invented"

    client.documents.update(guide.id, content=OBSERVATORY.replace("17 dollars", "23 dollars"))
    (price,) = chat(server, avatar.id, "How much is a night tour?")
    assert "23" in price or "twenty-three" in price.lower(), price

    client.documents.delete(notes.id)
    assert chunks(server, notes.id) == 0
    assert client.avatars.retrieve(avatar.id).document_ids == [guide.id]
    # A document stored before the knowledge base (no passages) is indexed when a session needs it.
    sql(server, "DELETE FROM document_chunks WHERE document_id = :id", guide.id)
    sql(server, "UPDATE documents SET tokens = NULL, index_version = NULL WHERE id = :id", guide.id)
    telescope, cat = chat(
        server,
        avatar.id,
        "What is your main telescope called?",
        "What is the observatory cat called?",
    )
    assert "orrin" in telescope.lower(), telescope
    assert cat == UNKNOWN_LINE, cat
    assert chunks(server, guide.id) >= 2


def test_documents_over_the_token_limits_are_refused(server_factory: ServerFactory) -> None:
    server = server_factory(KNOWLEDGE_MAX_TOKENS="300")
    client = server.sdk(server.create_key("limits", "--tier", "2"), max_retries=0)
    words = " ".join(f"Fact {i} is true." for i in range(80))  # about 400 tokens
    with pytest.raises(runwayml.BadRequestError) as err:
        client.documents.create(name="Too long", content=words)
    body = err.value.body
    assert isinstance(body, dict)
    assert "a document may have at most 300" in body["error"] and "tokens" in body["error"]
    assert body.get("issues") is None or body["issues"][0]["path"] == ["content"]

    half = " ".join(f"Fact {i} is true." for i in range(36))  # about 180 tokens
    one = client.documents.create(name="One", content=half)
    two = client.documents.create(name="Two", content=half)
    with pytest.raises(runwayml.BadRequestError) as err:
        ready_avatar(client, data_uri(face_png()), document_ids=[one.id, two.id])
    assert isinstance(err.value.body, dict)
    message = err.value.body["error"]
    assert "tokens of knowledge in 2 document(s)" in message and "at most 300" in message
    total = int(message.split(" tokens")[0].split()[-1].replace(",", ""))
    assert 300 < total < 450, message

    avatar = ready_avatar(client, data_uri(face_png()), document_ids=[one.id])
    client.documents.update(two.id, content="Short now.")
    client.avatars.update(avatar.id, document_ids=[one.id, two.id])
    with pytest.raises(runwayml.BadRequestError) as err:
        client.documents.update(two.id, content=half)  # would put the avatar over
    assert isinstance(err.value.body, dict)
    assert f"Avatar {avatar.id} would have" in err.value.body["error"]
    assert client.documents.retrieve(two.id).content == "Short now."


def test_a_document_too_large_for_any_avatar_is_refused_before_embedding(server: Server) -> None:
    client = server.sdk(server.create_key("big", "--tier", "2"), max_retries=0)
    with pytest.raises(runwayml.BadRequestError) as err:
        client.documents.create(name="Huge", content="zq7 " * 50_000)  # 200 000 characters
    assert isinstance(err.value.body, dict)
    assert "a document may have at most 50,000" in err.value.body["error"]
    with pytest.raises(runwayml.BadRequestError):
        pdf_document(client, "Huge PDF", "zq7 " * 49_000)
