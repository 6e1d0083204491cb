"""Knowledge-base benchmark: do characters answer from their documents, and what does it cost?

Four parts, each printed and written to ``bench/results/knowledge-<model>.json``:

* **accuracy**: questions (and small talk) put to invented characters through the real text path
  (``Engines.load(settings, listen=False)``, ``Conversation.respond`` after ``prepare()``, as
  between turns of a call), each character with its own invented documents
  (``bench/documents/``; the baths' guide is ingested as a PDF). Scored automatically with
  ``bench/answers.py``'s normalisation: **fact** (the expected facts are in the answer),
  **unknown** (the documents do not say: the answer must admit it and invent no number),
  **follow-up** (the second turn of a two-turn conversation), **chat** (small talk: the character
  must not answer it with "I don't know"). The ``tune`` half was written
  first and the prompt and retrieval tuned on it; the ``held-out`` half (with a fifth character
  and document) was written afterwards and run once the code was frozen; ``held-out-2`` and
  ``held-out-3`` were each written after the changes the run before prompted, and
  ``held-out-4`` and ``held-out-5`` each before the code it tests was changed; ``held-out-6``
  (30 questions) was written on 2026-12-05 by a reviewer who had not seen the code under test,
  and had not been run when it was committed; ``held-out-7`` (40 questions, with a sixth
  character and document, ``kelderwick-observatory.md``) likewise on 2026-12-06, and
  ``held-out-8`` (night) and ``held-out-9`` (day, 36 questions) likewise on 2026-12-06, and
  ``held-out-10`` (36 questions) likewise on 2026-12-06 (afternoon), and ``held-out-11`` (36
  questions) likewise on 2026-12-06 (evening). Answers are sampled:
  ``--set llm_seed=N`` makes each reproducible (see ``bench/answers.py``).
* **latency cost**: the same fact questions answered without the character's documents, with
  them, and with them after their first three quarters were anticipated (the passages put into
  the model's cache as a live call does on a partial transcript), in turn in one process (so
  all see the same load): first token and first speakable text, p50/p95.
* **retrieval at 50 000 tokens**: every question searched in one index holding all the
  documents plus generated look-alike documents (other venues' hours, prices, staff) up to
  ``knowledge_max_tokens``: latency of each question's first search p50/p95 (the cost per
  turn, embedding its words included; target ≤ 30 ms), of the same words searched again (the
  index keeps the last query's vectors), and whether the passage with the answer is still found.
* **ingestion**: a PDF of the documents and the generated text, extracted, cut, embedded and
  stored in a fresh SQLite database: pages and tokens per second.

    python bench/knowledge.py                    # everything (about 5 minutes on 2 cores)
    python bench/knowledge.py --only accuracy --split tune -v
    python bench/knowledge.py --skip accuracy --skip latency   # no language model
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.answers import (  # noqa: E402
    ADMITS,
    Persona,
    _has,
    _numbers,
    _print_hedged,
    facts_said,
    first_person_ok,
    hedged,
    normalise,
    pct,
    setting_value,
    silent_synthesis,
)
from characters.config import Settings, async_url, load_settings  # noqa: E402
from characters.conversation import engine as engine_module  # noqa: E402
from characters.conversation.engine import AgentDone, Conversation, Engines  # noqa: E402
from characters.conversation.prompt import Character  # noqa: E402
from characters.knowledge.formats import document_text  # noqa: E402
from characters.knowledge.index import KnowledgeIndex, Source  # noqa: E402
from characters.knowledge.store import embedder, index_text  # noqa: E402
from tests.pdf import paginate, pdf_bytes, text_pdf  # noqa: E402

DOCUMENTS = Path(__file__).resolve().parent / "documents"
CATEGORIES = ("fact", "unknown", "follow-up", "chat")
SPLITS = (
    "tune",
    "held-out",
    "held-out-2",
    "held-out-3",
    "held-out-4",
    "held-out-5",
    "held-out-6",
    "held-out-7",
    "held-out-8",
    "held-out-9",
    "held-out-10",
    "held-out-11",
)
PARTS = ("accuracy", "latency", "retrieval", "ingestion")


@dataclass(frozen=True)
class Cast:
    """A character and the documents it answers from (file names in ``bench/documents``)."""

    persona: Persona
    documents: tuple[str, ...]

    def character(self, index: KnowledgeIndex | None) -> Character:
        p = self.persona
        return Character(
            name=p.name, personality=p.personality, start_script=p.start, knowledge=index
        )


CASTS = {
    c.persona.name: c
    for c in (
        Cast(
            Persona(
                "Tova",
                "You are Tova, the customer assistant of Halvard Ferries. You help travellers "
                "with tickets, timetables and life on board.",
                "Hello, I'm Tova from Halvard Ferries. How can I help with your trip?",
                ("the assistant",),
            ),
            ("halvard-ferries.txt",),
        ),
        Cast(
            Persona(
                "Jonas",
                "You are Jonas from the Zephyr Kitchenworks support team. You help owners of "
                "the Zephyr K7 grinder.",
                "Hi, this is Jonas from Zephyr support. What can I do for your K7?",
                ("the support agent",),
            ),
            ("zephyr-k7.md",),
        ),
        Cast(
            Persona(
                "Liesl",
                "You are Liesl, the receptionist of Velmora Thermal Baths.",
                "Welcome to Velmora Thermal Baths, I'm Liesl. How can I help?",
                ("the receptionist",),
            ),
            ("velmora-baths.md",),
        ),
        Cast(
            Persona(
                "Mira",
                "You are Mira, the people-team assistant at Quillon Botanical Labs. You answer "
                "colleagues' questions about working here.",
                "Hi, I'm Mira from the people team. What would you like to know?",
                ("the assistant",),
            ),
            ("quillon-handbook.md",),
        ),
        Cast(
            Persona(
                "Otto",
                "You are Otto, the makerspace helper at Marrowby Public Library.",
                "Hi, I'm Otto from the makerspace. What are you planning to make?",
                ("the helper",),
            ),
            ("marrowby-makerspace.txt",),
        ),
        Cast(
            Persona(
                "Vesna",
                "You are Vesna, the visitor guide at Kelderwick Observatory. You help visitors "
                "plan a trip to the exhibition, the planetarium and the stargazing evenings.",
                "Hello, I'm Vesna from Kelderwick Observatory. How can I help you plan your visit?",
                ("the guide",),
            ),
            ("kelderwick-observatory.md",),
        ),
    )
}
HELD_OUT_CASTS = {"Otto", "Vesna"}
"""Characters of the held-out splits only."""
PDF_DOCUMENTS = {"velmora-baths.md"}
"""Ingested as a PDF (made from the Markdown text), as an uploaded PDF would be."""


@dataclass(frozen=True)
class Question:
    persona: str
    category: str
    text: str
    split: str
    expect: tuple[tuple[str, ...], ...] = ()
    """Every group must be in the answer; a group is satisfied by any of its alternatives."""
    before: str | None = None


def q(
    persona: str,
    category: str,
    text: str,
    *expect: tuple[str, ...],
    split: str,
    before: str | None = None,
) -> Question:
    return Question(persona, category, text, split, tuple(expect), before)


TUNE = [
    q(
        "Tova",
        "fact",
        "How long is the crossing to Brennoy?",
        ("1 hour", "85 minutes", "an hour"),
        ("25", "85"),
        split="tune",
    ),
    q("Tova", "fact", "How much is a ticket for my dog?", ("12",), split="tune"),
    q("Tova", "fact", "Who is the captain of the Kestrel Dawn?", ("solvang",), split="tune"),
    q("Tova", "fact", "What's the Wi-Fi network called?", ("halvard guest",), split="tune"),
    q("Tova", "unknown", "Can I bring my horse on the ferry?", split="tune"),
    q("Tova", "unknown", "Is there a swimming pool on board?", split="tune"),
    q(
        "Tova",
        "follow-up",
        "And for a child of ten?",
        ("half", "19"),
        before="How much is an adult ticket to Brennoy?",
        split="tune",
    ),
    q(
        "Jonas",
        "fact",
        "What grind setting should I use for espresso?",
        ("6",),
        ("11",),
        split="tune",
    ),
    q(
        "Jonas",
        "fact",
        "What does error E22 mean?",
        ("hot", "overheat", "overheated", "heat"),
        split="tune",
    ),
    q("Jonas", "fact", "How long is the warranty?", ("30", "48"), split="tune"),
    q("Jonas", "unknown", "Does the K7 work with 110 volt outlets?", split="tune"),
    q("Jonas", "unknown", "How much does the K7 cost?", split="tune"),
    q(
        "Jonas",
        "follow-up",
        "How long do I hold them?",
        ("8",),
        before="How do I reset the grinder?",
        split="tune",
    ),
    q("Liesl", "fact", "How warm is the Amber pool?", ("38",), split="tune"),
    q("Liesl", "fact", "When are you open on Sunday?", ("9",), ("11",), split="tune"),
    q("Liesl", "fact", "How old do I have to be for the sauna?", ("14",), split="tune"),
    q("Liesl", "unknown", "Do you have a gym?", split="tune"),
    q("Liesl", "unknown", "Is there a hotel nearby?", split="tune"),
    q("Mira", "fact", "How many days of leave do I get?", ("27",), split="tune"),
    q("Mira", "fact", "What's the extension of the IT helpdesk?", ("4410", "44 10"), split="tune"),
    q("Mira", "fact", "Who is the head of people?", ("lindqvist",), split="tune"),
    q("Mira", "unknown", "Do we get a company car?", split="tune"),
    q("Mira", "unknown", "What is the dress code for client meetings?", split="tune"),
    q("Tova", "chat", "Hello! How are you today?", split="tune"),
    q("Jonas", "chat", "Thanks, that was helpful. Bye!", split="tune"),
    q("Mira", "chat", "Good morning, Mira!", split="tune"),
]

HELD_OUT = [
    # Written after the prompt and retrieval were tuned on TUNE, and run once the code was frozen.
    q(
        "Tova",
        "fact",
        "What time is the first ferry to Brennoy in summer?",
        ("6:40", "6 40"),
        split="held-out",
    ),
    q("Tova", "fact", "How long do you keep lost property?", ("90",), split="held-out"),
    q(
        "Tova",
        "fact",
        "Can I take my car on the Skarvik shuttle?",
        ("no", "not", "only", "foot"),
        split="held-out",
    ),
    q("Tova", "unknown", "Do you sell duty-free perfume on board?", split="held-out"),
    q(
        "Tova",
        "follow-up",
        "And for foot passengers?",
        ("20",),
        before="When does check-in close for cars?",
        split="held-out",
    ),
    q(
        "Jonas",
        "fact",
        "How many grams of coffee does one second give?",
        ("1.6",),
        split="held-out",
    ),
    q("Jonas", "fact", "What does E31 mean?", ("jam", "jammed"), split="held-out"),
    q(
        "Jonas",
        "fact",
        "Can I wash the burrs with water?",
        ("no", "never", "rust"),
        split="held-out",
    ),
    q("Jonas", "unknown", "Which colours does the K7 come in?", split="held-out"),
    q("Liesl", "fact", "How much is a day ticket?", ("29",), split="held-out"),
    q("Liesl", "fact", "Who founded the baths?", ("voss",), split="held-out"),
    q("Liesl", "fact", "Which bus goes to the baths?", ("14",), split="held-out"),
    q("Liesl", "unknown", "Can I bring my own food?", split="held-out"),
    q(
        "Liesl",
        "follow-up",
        "And a short neck and back one?",
        ("42",),
        before="How much is a 50 minute massage?",
        split="held-out",
    ),
    q("Mira", "fact", "When are salaries paid?", ("25",), split="held-out"),
    q("Mira", "fact", "Where is the annual retreat?", ("orvin",), split="held-out"),
    q("Mira", "fact", "How much is the bike allowance?", ("30",), split="held-out"),
    q("Mira", "unknown", "Is there a gym discount for staff?", split="held-out"),
    q("Otto", "fact", "What is the laser cutter called?", ("ember 9", "ember"), split="held-out"),
    q(
        "Otto",
        "fact",
        "When is the induction course?",
        ("thursday",),
        ("5:30", "5 30"),
        split="held-out",
    ),
    q("Otto", "fact", "How much does filament cost?", ("5",), split="held-out"),
    q("Otto", "fact", "Who runs the makerspace?", ("oduya",), split="held-out"),
    q("Otto", "unknown", "What is the Wi-Fi password in the makerspace?", split="held-out"),
    q("Otto", "fact", "Can I pay in cash?", ("card",), split="held-out"),
    q(
        "Otto",
        "follow-up",
        "And how long can one print run?",
        ("6",),
        before="How far ahead can I book a machine?",
        split="held-out",
    ),
    q("Otto", "chat", "Hi Otto, nice to meet you!", split="held-out"),
    q("Liesl", "chat", "Great, thank you so much.", split="held-out"),
]

HELD_OUT_2 = [
    # Written after the first held-out run, and after the changes it prompted (sentence vectors,
    # the sentence before a passage that refers back, ordinals in the scorer); run once.
    q(
        "Tova",
        "fact",
        "How many passengers can the Kestrel Dawn carry?",
        ("412",),
        split="held-out-2",
    ),
    q("Tova", "fact", "Where is the lost property desk?", ("terminal b",), split="held-out-2"),
    q("Tova", "unknown", "Is there a cinema on the ferry?", split="held-out-2"),
    q("Jonas", "fact", "What size are the burrs?", ("54",), split="held-out-2"),
    q("Jonas", "fact", "How do I save a preset?", ("3",), split="held-out-2"),
    q("Jonas", "unknown", "Can I grind spices in the K7?", split="held-out-2"),
    q("Liesl", "fact", "How hot is the Birch sauna?", ("85",), split="held-out-2"),
    q(
        "Liesl",
        "fact",
        "Is the Herb sauna ever for women only?",
        ("tuesday", "tuesdays"),
        split="held-out-2",
    ),
    q(
        "Liesl",
        "follow-up",
        "And a bathrobe?",
        ("7",),
        before="How much does it cost to rent a towel?",
        split="held-out-2",
    ),
    q("Mira", "fact", "How long is the probation period?", ("6",), split="held-out-2"),
    q("Mira", "unknown", "Can I bring my dog to the office?", split="held-out-2"),
    q(
        "Mira",
        "follow-up",
        "And how long do I have to upload receipts?",
        ("30",),
        before="How much is the meal allowance on business trips?",
        split="held-out-2",
    ),
    q("Otto", "fact", "How long can a booking last?", ("3",), split="held-out-2"),
    q(
        "Otto",
        "fact",
        "Can I bring my own materials?",
        ("approve", "approved", "technician"),
        split="held-out-2",
    ),
    q("Otto", "unknown", "Do you run coding workshops for teenagers?", split="held-out-2"),
    q("Otto", "chat", "Okay, thanks Otto. See you soon!", split="held-out-2"),
]

HELD_OUT_3 = [
    # Written after the second run, whose unknowns showed the relevance threshold had to rise
    # with sentence vectors (recalibrated on TUNE only); run once.
    q("Tova", "fact", "When was the Saltmarsh built?", ("1994",), split="held-out-3"),
    q("Tova", "fact", "What is the shuttle boat called?", ("little tern",), split="held-out-3"),
    q("Tova", "unknown", "Do you have cabins for overnight trips?", split="held-out-3"),
    q("Jonas", "fact", "How much does a replacement burr set cost?", ("49",), split="held-out-3"),
    q("Jonas", "fact", "How heavy is the grinder?", ("3.9",), split="held-out-3"),
    q("Jonas", "unknown", "Is there an app for the K7?", split="held-out-3"),
    q("Liesl", "fact", "When is the honey infusion?", ("7",), split="held-out-3"),
    q("Liesl", "unknown", "Do you offer yoga classes?", split="held-out-3"),
    q(
        "Mira",
        "fact",
        "How much is the yearly learning budget?",
        ("1200", "1,200"),
        split="held-out-3",
    ),
    q(
        "Mira",
        "fact",
        "Where is the fire assembly point?",
        ("gate 3", "car park"),
        split="held-out-3",
    ),
    q("Otto", "fact", "How much is a sheet of plywood?", ("4",), split="held-out-3"),
    q("Otto", "unknown", "Can I rent a 3D printer to take home?", split="held-out-3"),
]

HELD_OUT_4 = [
    # Written on 2026-12-05, before the code it tests was changed.
    q(
        "Tova",
        "fact",
        "Can my dog sit with me in the cafe?",
        (
            "no",
            "not",
            "aren't",
            "isn't",
            "can't",
            "cannot",
            "outer deck",
            "outer decks",
            "pet lounge",
        ),
        split="held-out-4",
    ),
    q(
        "Tova",
        "fact",
        "When does the last ferry leave Brennoy on a summer day?",
        ("8 pm", "8 in the evening", "8 at night", "8 o'clock", "20"),
        split="held-out-4",
    ),
    q(
        "Tova",
        "fact",
        "Can I use my wheelchair on the Little Tern?",
        ("no", "not", "isn't", "can't", "cannot", "inaccessible"),
        split="held-out-4",
    ),
    q(
        "Tova",
        "unknown",
        "Is there long-term parking at the Port Vellin terminal?",
        split="held-out-4",
    ),
    q(
        "Tova",
        "follow-up",
        "And a bike?",
        ("9",),
        before="How much does it cost to take my car to Brennoy?",
        split="held-out-4",
    ),
    q(
        "Jonas",
        "fact",
        "Can I put the grounds bin in the dishwasher?",
        ("no", "not", "can't", "cannot", "shouldn't", "hand"),
        split="held-out-4",
    ),
    q(
        "Jonas",
        "fact",
        "Which setting should I use for a French press?",
        ("34",),
        ("40",),
        split="held-out-4",
    ),
    q(
        "Jonas",
        "fact",
        "When can I phone your support line?",
        ("monday", "mondays"),
        ("thursday", "thursdays"),
        ("9",),
        ("5",),
        split="held-out-4",
    ),
    q("Jonas", "unknown", "How long is the power cord?", split="held-out-4"),
    q("Jonas", "chat", "Hi Jonas, my K7 just arrived and I'm really excited!", split="held-out-4"),
    q(
        "Liesl",
        "fact",
        "Can I keep my swimsuit on in the sauna?",
        ("no", "not", "can't", "cannot", "don't", "isn't", "textile free"),
        split="held-out-4",
    ),
    q(
        "Liesl",
        "fact",
        "How much is a ten-visit card, and how long is it valid?",
        ("240",),
        ("year", "12 months"),
        split="held-out-4",
    ),
    q(
        "Liesl",
        "fact",
        "Are you open on Christmas Day?",
        ("no", "not", "closed", "aren't"),
        split="held-out-4",
    ),
    q("Liesl", "unknown", "Do you sell gift vouchers?", split="held-out-4"),
    q("Liesl", "chat", "I've had such a relaxing afternoon here, thank you!", split="held-out-4"),
    q(
        "Mira",
        "fact",
        "How many unused leave days can I take into next year?",
        ("5",),
        split="held-out-4",
    ),
    q(
        "Mira",
        "fact",
        "Who gives me my laptop on my first day?",
        ("adeyemi", "emeka"),
        split="held-out-4",
    ),
    q(
        "Mira",
        "fact",
        "Can I work from home every day?",
        ("no", "not", "only", "up to", "can't", "cannot"),
        ("3",),
        split="held-out-4",
    ),
    q("Mira", "unknown", "Does the company pay into a pension for us?", split="held-out-4"),
    q(
        "Mira",
        "follow-up",
        "And once probation is over?",
        ("2",),
        ("month", "months"),
        before="What's the notice period during probation?",
        split="held-out-4",
    ),
    q(
        "Otto",
        "fact",
        "Can my 12-year-old use the makerspace on his own?",
        ("no", "not", "can't", "cannot", "adult", "16"),
        split="held-out-4",
    ),
    q(
        "Otto",
        "fact",
        "Is the makerspace open on Tuesdays?",
        ("no", "not", "closed"),
        split="held-out-4",
    ),
    q("Otto", "unknown", "How much does vinyl for the vinyl cutter cost?", split="held-out-4"),
    q("Otto", "unknown", "Are there lockers where I can leave my bag?", split="held-out-4"),
]

HELD_OUT_5 = [
    # Written on 2026-12-05, before the code it tests was changed.
    q("Tova", "fact", "How much is the fish soup in the cafe?", ("11",), split="held-out-5"),
    q(
        "Tova",
        "fact",
        "Do I get any money back if I cancel three hours before my sailing?",
        ("no", "not", "won't", "can't", "cannot", "isn't"),
        split="held-out-5",
    ),
    q(
        "Tova",
        "fact",
        "When does the winter timetable begin?",
        ("november",),
        ("3",),
        split="held-out-5",
    ),
    q(
        "Tova",
        "unknown",
        "Can I charge my electric car on the car deck during the crossing?",
        split="held-out-5",
    ),
    q(
        "Tova",
        "follow-up",
        "And how much is a ticket on it?",
        ("7",),
        before="How long does the boat from Brennoy to Skarvik take?",
        split="held-out-5",
    ),
    q("Jonas", "fact", "How many grams of beans fit in the hopper?", ("340",), split="held-out-5"),
    q(
        "Jonas",
        "fact",
        "My display shows E14. What's wrong?",
        ("lid", "seated", "click", "clicks"),
        split="held-out-5",
    ),
    q(
        "Jonas",
        "fact",
        "Does the warranty cover burrs damaged by a stone in the beans?",
        ("no", "not", "doesn't", "isn't", "won't"),
        split="held-out-5",
    ),
    q(
        "Jonas",
        "unknown",
        "How much does a pack of Grindz cleaning tablets cost?",
        split="held-out-5",
    ),
    q("Jonas", "chat", "How's your day going, Jonas?", split="held-out-5"),
    q(
        "Liesl",
        "fact",
        "Until what time does the restaurant serve food?",
        ("9 pm", "9 in the evening", "9 at night", "9 o'clock", "21"),
        split="held-out-5",
    ),
    q(
        "Liesl",
        "fact",
        "Can my four-year-old come into the thermal pools with me?",
        ("no", "not", "can't", "cannot", "isn't", "aren't", "under 6"),
        split="held-out-5",
    ),
    q("Liesl", "fact", "How much does parking cost?", ("2",), split="held-out-5"),
    q("Liesl", "unknown", "Are there hair dryers in the changing rooms?", split="held-out-5"),
    q(
        "Liesl",
        "follow-up",
        "And the cold plunge?",
        ("12",),
        before="How warm is the Cedar pool?",
        split="held-out-5",
    ),
    q("Mira", "fact", "What are the core hours?", ("10",), ("3",), split="held-out-5"),
    q(
        "Mira",
        "fact",
        "What does it cost if I lose my security badge?",
        ("15",),
        split="held-out-5",
    ),
    q("Mira", "fact", "Who is our chief executive?", ("marsh", "helena"), split="held-out-5"),
    q("Mira", "unknown", "Is there a staff canteen on site?", split="held-out-5"),
    q("Mira", "chat", "Hi Mira, it's my first week here!", split="held-out-5"),
    q(
        "Otto",
        "fact",
        "How many people can join one induction session?",
        ("6",),
        split="held-out-5",
    ),
    q(
        "Otto",
        "fact",
        "Can I bring a coffee into the makerspace?",
        ("no", "not", "can't", "cannot", "aren't", "isn't"),
        split="held-out-5",
    ),
    q("Otto", "unknown", "What make are the 3D printers?", split="held-out-5"),
    q("Otto", "unknown", "Is there parking near the library?", split="held-out-5"),
]

# Written on 2026-12-05 by a reviewer who had not seen the code under test.
HELD_OUT_6 = [
    # Tova, Halvard Ferries (halvard-ferries.txt)
    q("Tova", "fact", "My mum is 70. Does she get any discount?", ("20",), split="held-out-6"),
    q(
        "Tova",
        "fact",
        "Does my three-year-old need a ticket?",
        ("no", "not", "free", "doesn't", "don't", "isn't"),
        split="held-out-6",
    ),
    q(
        "Tova",
        "fact",
        "How late can I cancel and still get all my money back?",
        ("48", "2 days"),
        split="held-out-6",
    ),
    q(
        "Tova",
        "unknown",
        "How much are the cinnamon buns in the Gull's Galley?",
        split="held-out-6",
    ),
    q(
        "Tova",
        "unknown",
        "Is there somewhere at Terminal A where I can leave my luggage for the day?",
        split="held-out-6",
    ),
    q("Tova", "chat", "That's all I needed, thanks Tova. Have a good one!", split="held-out-6"),
    # Jonas, Zephyr K7 (zephyr-k7.md)
    q(
        "Jonas",
        "fact",
        "What number should I set it to for pour-over coffee?",
        ("22",),
        ("28",),
        split="held-out-6",
    ),
    q(
        "Jonas",
        "fact",
        "How often should I run a cleaning tablet through it?",
        ("2 weeks", "14 days", "fortnight", "fortnightly", "other week"),
        split="held-out-6",
    ),
    q(
        "Jonas",
        "fact",
        "Can I change the grind setting while the grinder is switched off?",
        ("no", "not", "don't", "shouldn't", "can't", "cannot", "only"),
        split="held-out-6",
    ),
    q("Jonas", "unknown", "How much does a replacement grounds bin cost?", split="held-out-6"),
    q("Jonas", "unknown", "Can I buy a bigger bean hopper for the K7?", split="held-out-6"),
    q(
        "Jonas",
        "follow-up",
        "And for Turkish coffee?",
        ("1",),
        ("5",),
        before="Which setting is best for a moka pot?",
        split="held-out-6",
    ),
    # Liesl, Velmora Thermal Baths (velmora-baths.md, ingested as a PDF)
    q(
        "Liesl",
        "fact",
        "I'm a student. What would a three-hour visit cost me?",
        ("15",),
        split="held-out-6",
    ),
    q(
        "Liesl",
        "fact",
        "Can I book a massage for this afternoon?",
        ("no", "not", "can't", "cannot", "isn't", "won't", "advance", "day before"),
        split="held-out-6",
    ),
    q(
        "Liesl",
        "fact",
        "Which dish is the restaurant best known for?",
        ("trout",),
        split="held-out-6",
    ),
    q("Liesl", "unknown", "How deep is the Amber pool?", split="held-out-6"),
    q("Liesl", "unknown", "Is there free Wi-Fi for guests?", split="held-out-6"),
    q("Liesl", "chat", "Hi Liesl, it's my very first time at a thermal bath!", split="held-out-6"),
    # Mira, Quillon Botanical Labs (quillon-handbook.md)
    q(
        "Mira",
        "fact",
        "We're expecting a baby. How much parental leave would I get?",
        ("20",),
        ("week", "weeks"),
        split="held-out-6",
    ),
    q(
        "Mira",
        "fact",
        "If I'm ill, by what time do I have to let my team lead know?",
        ("9:30", "9 30", "half past 9"),
        split="held-out-6",
    ),
    q(
        "Mira",
        "fact",
        "Can I wear sandals in the greenhouses?",
        ("no", "not", "can't", "cannot", "closed shoes", "closed"),
        split="held-out-6",
    ),
    q("Mira", "unknown", "Which floor is the Fern Room on?", split="held-out-6"),
    q(
        "Mira",
        "unknown",
        "Can I bring my partner along to the retreat at Lake Orvin?",
        split="held-out-6",
    ),
    q(
        "Mira",
        "follow-up",
        "And what time do they start?",
        ("4",),
        before="Where are the Friday seminars held?",
        split="held-out-6",
    ),
    # Otto, Marrowby makerspace (marrowby-makerspace.txt)
    q(
        "Otto",
        "fact",
        "Which floor of the library is the makerspace on?",
        ("lower ground", "basement", "downstairs"),
        split="held-out-6",
    ),
    q(
        "Otto",
        "fact",
        "How late can I turn up before my machine booking goes to someone else?",
        ("15",),
        split="held-out-6",
    ),
    q(
        "Otto",
        "fact",
        "Is there a fee for using the machines?",
        ("no", "not", "free", "don't", "doesn't", "isn't"),
        split="held-out-6",
    ),
    q(
        "Otto",
        "unknown",
        "What's the biggest piece of wood the Ember-9 can cut?",
        split="held-out-6",
    ),
    q("Otto", "unknown", "Is the makerspace open on public holidays?", split="held-out-6"),
    q(
        "Otto",
        "follow-up",
        "How much does a card cost?",
        ("free",),
        before="Do I need a library card to use the makerspace?",
        split="held-out-6",
    ),
]

# Written on 2026-12-06 by a reviewer who had not seen the code under test.
HELD_OUT_7 = [
    # Vesna, Kelderwick Observatory (kelderwick-observatory.md)
    q(
        "Vesna",
        "fact",
        "What does it cost for a grown-up to see the exhibition and a planetarium show?",
        ("14",),
        split="held-out-7",
    ),
    q("Vesna", "fact", "How long is a planetarium film?", ("35",), split="held-out-7"),
    q(
        "Vesna",
        "fact",
        "What's the youngest a child can be to join a stargazing evening?",
        ("8",),
        split="held-out-7",
    ),
    q(
        "Vesna",
        "fact",
        "Are there any stargazing evenings in July?",
        ("no", "not", "aren't", "isn't", "don't", "doesn't", "none"),
        split="held-out-7",
    ),
    q("Vesna", "fact", "Who is in charge of the observatory?", ("petrak",), split="held-out-7"),
    q(
        "Vesna",
        "fact",
        "How many seats are there in the planetarium?",
        ("46",),
        split="held-out-7",
    ),
    q(
        "Vesna",
        "fact",
        "If it's cloudy on my stargazing night, do I get my money back?",
        ("no", "not", "won't", "don't", "isn't", "can't", "cannot"),
        split="held-out-7",
    ),
    q(
        "Vesna",
        "fact",
        "Can I get up to the East Dome in a wheelchair?",
        ("no", "not", "isn't", "can't", "cannot", "steps", "stairs", "no lift"),
        split="held-out-7",
    ),
    q(
        "Vesna",
        "fact",
        "When was the Fairweather Reflector put in?",
        ("2015",),
        split="held-out-7",
    ),
    q(
        "Vesna",
        "fact",
        "On a Friday in January, what time does stargazing begin?",
        ("8 pm", "8 in the evening", "8 at night", "8 o'clock", "8:00", "20"),
        split="held-out-7",
    ),
    q(
        "Vesna",
        "fact",
        "Can I bring my dog into the visitor centre?",
        ("no", "not", "only", "can't", "cannot", "aren't", "isn't", "assistance"),
        split="held-out-7",
    ),
    q(
        "Vesna",
        "fact",
        "Can I pay for my tickets in cash at the desk?",
        ("no", "not", "only", "can't", "cannot", "doesn't", "don't", "card"),
        split="held-out-7",
    ),
    q(
        "Vesna",
        "fact",
        "Can a school class come on a Tuesday?",
        ("yes", "morning", "mornings"),
        split="held-out-7",
    ),
    q(
        "Vesna",
        "fact",
        "What extension should I ask for to book a private telescope session?",
        ("32",),
        split="held-out-7",
    ),
    q(
        "Vesna",
        "fact",
        "How much notice do I have to give to cancel a stargazing booking and get a full refund?",
        ("72", "3 days"),
        split="held-out-7",
    ),
    q(
        "Vesna",
        "fact",
        "Can my two-year-old come with us into the planetarium?",
        ("no", "not", "can't", "cannot", "isn't", "aren't", "under 3"),
        split="held-out-7",
    ),
    q("Vesna", "unknown", "How much is a cup of tea in the Comet Café?", split="held-out-7"),
    q("Vesna", "unknown", "Is there a gift shop where I can buy a star map?", split="held-out-7"),
    q("Vesna", "unknown", "How long does a school visit last?", split="held-out-7"),
    q(
        "Vesna",
        "unknown",
        "What magnification does the Great Refractor have?",
        split="held-out-7",
    ),
    q(
        "Vesna",
        "unknown",
        "Can I park my camper van overnight in your car park?",
        split="held-out-7",
    ),
    q("Vesna", "unknown", "How far is the nearest train station?", split="held-out-7"),
    q(
        "Vesna",
        "unknown",
        "Do you host birthday parties for children?",
        split="held-out-7",
    ),
    q(
        "Vesna",
        "follow-up",
        "And for my ten-year-old?",
        ("11",),
        before="How much is a stargazing evening for an adult?",
        split="held-out-7",
    ),
    q(
        "Vesna",
        "follow-up",
        "How many children does that cover?",
        ("3",),
        before="How much is a family ticket?",
        split="held-out-7",
    ),
    q(
        "Vesna",
        "follow-up",
        "And the mirror of the other telescope?",
        ("60",),
        before="How big is the lens of the Great Refractor?",
        split="held-out-7",
    ),
    q(
        "Vesna",
        "follow-up",
        "How much is a return ticket?",
        ("4",),
        before="Is there a bus up to the observatory from the village?",
        split="held-out-7",
    ),
    q(
        "Vesna",
        "chat",
        "Hi Vesna! I've always wanted to look through a real telescope.",
        split="held-out-7",
    ),
    q("Vesna", "chat", "Good evening, how are you doing?", split="held-out-7"),
    q("Vesna", "chat", "Thanks a lot, you've been really helpful!", split="held-out-7"),
    # Tova, Halvard Ferries (halvard-ferries.txt)
    q(
        "Tova",
        "fact",
        "If it's too late for a refund, can I still move my ticket to a later sailing that day, "
        "and what does it cost?",
        ("5",),
        split="held-out-7",
    ),
    q("Tova", "unknown", "Is there a discount for students?", split="held-out-7"),
    # Jonas, Zephyr K7 (zephyr-k7.md)
    q(
        "Jonas",
        "fact",
        "My K7 shows E22. How long should I let it cool down?",
        ("20",),
        split="held-out-7",
    ),
    q("Jonas", "unknown", "Is there a warranty on a replacement burr set?", split="held-out-7"),
    # Liesl, Velmora Thermal Baths (velmora-baths.md, ingested as a PDF)
    q(
        "Liesl",
        "fact",
        "On a weekday, what's the latest time I can get in?",
        ("8:30", "8 30", "half past 8", "90"),
        split="held-out-7",
    ),
    q(
        "Liesl",
        "fact",
        "How much salt is in the water of the Salt grotto?",
        ("8",),
        split="held-out-7",
    ),
    # Mira, Quillon Botanical Labs (quillon-handbook.md)
    q(
        "Mira",
        "fact",
        "By when do I have to use the leave days I carried over?",
        ("march",),
        split="held-out-7",
    ),
    q("Mira", "unknown", "How many paid sick days do we get a year?", split="held-out-7"),
    # Otto, Marrowby makerspace (marrowby-makerspace.txt)
    q(
        "Otto",
        "fact",
        "How long does the laser cutter induction take?",
        ("45",),
        split="held-out-7",
    ),
    q(
        "Otto",
        "unknown",
        "I don't live or work in Marrowby. Do I have to pay for a library card?",
        split="held-out-7",
    ),
]

# Written on 2026-12-06 (night) by a reviewer who had not seen the code under test.
HELD_OUT_8 = [
    # Tova, Halvard Ferries (halvard-ferries.txt)
    q(
        "Tova",
        "fact",
        "I get seasick really easily. Is there anywhere on board I can buy something for it?",
        ("kiosk", "deck 5"),
        split="held-out-8",
    ),
    q(
        "Tova",
        "fact",
        "If I cancel the day before I travel, do I get anything back?",
        ("50", "half"),
        split="held-out-8",
    ),
    q(
        "Tova",
        "fact",
        "I'm thinking of going over to Brennoy in January. How many boats a day are there then?",
        ("2",),
        split="held-out-8",
    ),
    q("Tova", "unknown", "What would it cost to bring my motorbike across?", split="held-out-8"),
    q(
        "Tova",
        "unknown",
        "How many suitcases am I allowed to bring as a foot passenger?",
        split="held-out-8",
    ),
    q(
        "Tova",
        "follow-up",
        "And how many cars can she take?",
        ("28",),
        before="How many passengers does the Saltmarsh hold?",
        split="held-out-8",
    ),
    # Jonas, Zephyr K7 (zephyr-k7.md)
    q("Jonas", "fact", "How loud is the K7 when it's grinding?", ("68",), split="held-out-8"),
    q(
        "Jonas",
        "fact",
        "How soon after buying it do I have to register the grinder to get the longer warranty?",
        ("60",),
        split="held-out-8",
    ),
    q(
        "Jonas",
        "fact",
        "The screen says E40. What should I do?",
        ("reset", "resetting", "dose and stop"),
        split="held-out-8",
    ),
    q(
        "Jonas",
        "fact",
        "If I reset the grinder, my saved presets are kept, right?",
        (
            "no",
            "not",
            "clear",
            "clears",
            "cleared",
            "lose",
            "lost",
            "erase",
            "erases",
            "erased",
            "delete",
            "deletes",
            "deleted",
            "wipe",
            "wipes",
            "wiped",
        ),
        split="held-out-8",
    ),
    q(
        "Jonas",
        "unknown",
        "How many days does it take for a replacement burr set to be delivered?",
        split="held-out-8",
    ),
    q("Jonas", "unknown", "Is there a version of the K7 with flat burrs?", split="held-out-8"),
    # Liesl, Velmora Thermal Baths (velmora-baths.md, ingested as a PDF)
    q("Liesl", "fact", "How hot does the steam bath get?", ("48",), split="held-out-8"),
    q(
        "Liesl",
        "fact",
        "I've only got the afternoon. What would I pay for three hours?",
        ("19",),
        split="held-out-8",
    ),
    q("Liesl", "fact", "How early do you open on a Tuesday?", ("7",), split="held-out-8"),
    q(
        "Liesl",
        "fact",
        "I can cancel my massage an hour before without paying anything, can't I?",
        ("no", "not", "can't", "cannot", "won't", "12", "full price"),
        split="held-out-8",
    ),
    q("Liesl", "unknown", "How much is the trout with dill potatoes?", split="held-out-8"),
    q("Liesl", "unknown", "Do pensioners get a reduced price?", split="held-out-8"),
    # Mira, Quillon Botanical Labs (quillon-handbook.md)
    q(
        "Mira",
        "fact",
        "How do I book a train ticket for a work trip?",
        ("wayfinder",),
        split="held-out-8",
    ),
    q("Mira", "fact", "What month is the staff retreat in?", ("september",), split="held-out-8"),
    q(
        "Mira",
        "fact",
        "I'll be working in the greenhouses. How long do I have to do the plant safety course?",
        ("2 weeks", "14 days", "fortnight"),
        split="held-out-8",
    ),
    q(
        "Mira",
        "unknown",
        "How many weeks' notice do I need to give before I take a holiday?",
        split="held-out-8",
    ),
    q(
        "Mira",
        "unknown",
        "Is there a relocation allowance if I move here for the job, and how much is it?",
        split="held-out-8",
    ),
    q(
        "Mira",
        "follow-up",
        "For how long?",
        ("6",),
        before="Do new starters get a mentor here?",
        split="held-out-8",
    ),
    # Otto, Marrowby makerspace (marrowby-makerspace.txt)
    q("Otto", "fact", "How many 3D printers have you got?", ("3",), split="held-out-8"),
    q("Otto", "fact", "What time do you close on a Saturday?", ("8",), split="held-out-8"),
    q(
        "Otto",
        "fact",
        "What do I have to wear when I'm soldering?",
        ("glasses", "goggles", "eye protection"),
        split="held-out-8",
    ),
    q(
        "Otto",
        "unknown",
        "How much do I pay for thread if I use the sewing machines?",
        split="held-out-8",
    ),
    q(
        "Otto",
        "unknown",
        "What's the largest object the 3D printers can print?",
        split="held-out-8",
    ),
    q(
        "Otto",
        "follow-up",
        "Do I have to pay for it?",
        ("free", "no", "not", "nothing"),
        before="Do I need to do a course before I can use the laser cutter?",
        split="held-out-8",
    ),
    # Vesna, Kelderwick Observatory (kelderwick-observatory.md)
    q(
        "Vesna",
        "fact",
        "I'm a student. What would the exhibition and a planetarium show cost me?",
        ("9",),
        split="held-out-8",
    ),
    q(
        "Vesna",
        "fact",
        "When does the last planetarium show of the day start?",
        ("4:30", "4 30", "half past 4"),
        split="held-out-8",
    ),
    q(
        "Vesna",
        "fact",
        "What's the yearly fee to join the Friends of the Fell?",
        ("65",),
        split="held-out-8",
    ),
    q(
        "Vesna",
        "fact",
        "We'll just buy our stargazing tickets at the door when we get there, that's fine, isn't "
        "it?",
        ("no", "not", "never", "can't", "cannot", "online", "advance"),
        split="held-out-8",
    ),
    q(
        "Vesna",
        "unknown",
        "How many seats are there on the minibus from Kelderwick?",
        split="held-out-8",
    ),
    q(
        "Vesna",
        "unknown",
        "Do you have audio guides for the exhibition, and in which languages?",
        split="held-out-8",
    ),
]

# Written on 2026-12-06 (day) by a reviewer who had not seen the code under test.
HELD_OUT_9 = [
    # Tova, Halvard Ferries (halvard-ferries.txt)
    q(
        "Tova",
        "fact",
        "I booked online. Where do I find the password for the Wi-Fi on board?",
        ("ticket",),
        split="held-out-9",
    ),
    q(
        "Tova",
        "fact",
        "I left my jacket on the ferry. Can I go and pick it up on Saturday?",
        ("no", "not", "weekday", "weekdays", "monday", "closed", "can't", "cannot"),
        split="held-out-9",
    ),
    q(
        "Tova",
        "fact",
        "My dad uses a wheelchair and will need a hand getting on board. How far ahead do we "
        "have to let you know?",
        ("24", "a day", "1 day", "one day"),
        split="held-out-9",
    ),
    q(
        "Tova",
        "unknown",
        "Is a return ticket to Brennoy cheaper than buying two singles?",
        split="held-out-9",
    ),
    q(
        "Tova",
        "follow-up",
        "And in the winter?",
        ("3", "three"),
        before="How often does the boat to Skarvik go?",
        split="held-out-9",
    ),
    q("Tova", "chat", "Hi Tova, we're off to Brennoy on holiday next week!", split="held-out-9"),
    # Jonas, Zephyr K7 (zephyr-k7.md)
    q("Jonas", "fact", "What's the longest dose time I can set?", ("45",), split="held-out-9"),
    q(
        "Jonas",
        "fact",
        "What size of portafilter does the holder on the K7 take?",
        ("58",),
        split="held-out-9",
    ),
    q(
        "Jonas",
        "fact",
        "After I've ground a cleaning tablet, how much coffee should I put through?",
        ("20",),
        split="held-out-9",
    ),
    q(
        "Jonas",
        "unknown",
        "Does the K7 switch itself off if I forget to turn it off?",
        split="held-out-9",
    ),
    q(
        "Jonas",
        "unknown",
        "If I email your support team, how long does it usually take to get a reply?",
        split="held-out-9",
    ),
    q(
        "Jonas",
        "follow-up",
        "How do I know when it's worked?",
        ("dash", "dashes"),
        before="How do I do a reset on my K7?",
        split="held-out-9",
    ),
    # Liesl, Velmora Thermal Baths (velmora-baths.md, ingested as a PDF)
    q(
        "Liesl",
        "fact",
        "Do I need to bring cash for drinks once I'm inside, or how does paying work?",
        ("wristband",),
        split="held-out-9",
    ),
    q(
        "Liesl",
        "fact",
        "Is the outdoor pool still open in the winter?",
        ("yes", "all year", "year round", "snow"),
        split="held-out-9",
    ),
    q(
        "Liesl",
        "fact",
        "Can I charge my electric car while I'm at the baths?",
        ("yes", "12"),
        split="held-out-9",
    ),
    q("Liesl", "unknown", "Can I rent a swimsuit if I forget mine?", split="held-out-9"),
    q(
        "Liesl",
        "follow-up",
        "And how often does it come?",
        ("20",),
        before="Which bus do I take to get to you?",
        split="held-out-9",
    ),
    q("Liesl", "chat", "Hi Liesl, I'm so ready for a day of doing nothing!", split="held-out-9"),
    # Mira, Quillon Botanical Labs (quillon-handbook.md)
    q(
        "Mira",
        "fact",
        "What's our intranet called again? I keep forgetting.",
        ("greenhouse",),
        split="held-out-9",
    ),
    q(
        "Mira",
        "fact",
        "I work with the live plant cultures in the lab. Can I do some of my days from home?",
        ("no", "not", "on site", "onsite", "can't", "cannot"),
        split="held-out-9",
    ),
    q(
        "Mira",
        "fact",
        "Do I have to buy my own lab coat and gloves?",
        ("no", "not", "don't", "provided"),
        split="held-out-9",
    ),
    q("Mira", "unknown", "Do we get a day off on our birthday?", split="held-out-9"),
    q(
        "Mira",
        "unknown",
        "Is there an allowance for setting up a desk and chair at home?",
        split="held-out-9",
    ),
    q(
        "Mira",
        "follow-up",
        "Who do I have to agree that with?",
        ("team lead", "lead"),
        before="How many days a week am I allowed to work from home?",
        split="held-out-9",
    ),
    # Otto, Marrowby makerspace (marrowby-makerspace.txt)
    q(
        "Otto",
        "fact",
        "What time do you open on a Sunday?",
        ("12", "noon", "midday"),
        split="held-out-9",
    ),
    q(
        "Otto",
        "fact",
        "I've got long hair. Is there anything I need to do about it?",
        ("tie", "tied", "back"),
        split="held-out-9",
    ),
    q("Otto", "fact", "How many sewing machines do you have?", ("2", "two"), split="held-out-9"),
    q(
        "Otto",
        "unknown",
        "Do you sell acrylic sheets for the laser cutter, and what do they cost?",
        split="held-out-9",
    ),
    q(
        "Otto",
        "follow-up",
        "How many days in advance?",
        ("14", "2 weeks", "two weeks", "fortnight"),
        before="Can I book the laser cutter online?",
        split="held-out-9",
    ),
    q(
        "Otto",
        "chat",
        "Morning Otto! I've been looking forward to this all week.",
        split="held-out-9",
    ),
    # Vesna, Kelderwick Observatory (kelderwick-observatory.md)
    q(
        "Vesna",
        "fact",
        "We were hoping to come up on a Monday afternoon. Is that possible?",
        ("no", "not", "closed", "can't", "cannot"),
        split="held-out-9",
    ),
    q(
        "Vesna",
        "fact",
        "How long does a stargazing evening go on for?",
        ("90", "hour and a half", "1 and a half hours", "one and a half hours"),
        split="held-out-9",
    ),
    q(
        "Vesna",
        "fact",
        "Should I bring my own torch for the stargazing?",
        ("red",),
        split="held-out-9",
    ),
    q("Vesna", "unknown", "Is there Wi-Fi in the visitor centre?", split="held-out-9"),
    q(
        "Vesna",
        "unknown",
        "Can I bring my own telescope along to a stargazing evening?",
        split="held-out-9",
    ),
    q(
        "Vesna",
        "chat",
        "Hi Vesna, my daughter is completely obsessed with the planets at the moment!",
        split="held-out-9",
    ),
]


# Written on 2026-12-06 (afternoon) by a reviewer who had not seen the code under test.
HELD_OUT_10 = [
    # Tova, Halvard Ferries (halvard-ferries.txt)
    q(
        "Tova",
        "fact",
        "We're going over to Brennoy in December. What's the last boat out from Port Vellin?",
        ("1:50", "1 50", "10 to 2", "13:50"),
        split="held-out-10",
    ),
    q(
        "Tova",
        "fact",
        "I'm taking the car on the 9:15 to Brennoy. What's the latest I can check in?",
        ("8:35", "8 35", "25 to 9", "40"),
        split="held-out-10",
    ),
    q(
        "Tova",
        "fact",
        "Is the ticket office already open an hour before the first boat?",
        ("45",),
        split="held-out-10",
    ),
    q(
        "Tova",
        "fact",
        "Do kids get a cheaper fare on the boat over to Skarvik?",
        ("7", "everyone", "everybody", "all passengers"),
        split="held-out-10",
    ),
    q(
        "Tova",
        "unknown",
        "Do they take cash at the ticket office in Terminal A, or is it cards only?",
        split="held-out-10",
    ),
    q(
        "Tova",
        "follow-up",
        "And when was she built?",
        ("2011",),
        before="How many cars can the Kestrel Dawn take?",
        split="held-out-10",
    ),
    # Jonas, Zephyr K7 (zephyr-k7.md)
    q(
        "Jonas",
        "fact",
        "Can I save, like, five different dose presets on it?",
        ("no", "not", "3", "only"),
        split="held-out-10",
    ),
    q(
        "Jonas",
        "fact",
        "How often am I supposed to give the chute where the coffee comes out a brush?",
        ("week", "weekly"),
        split="held-out-10",
    ),
    q(
        "Jonas",
        "fact",
        "Some beans are stuck and it's showing E31. How do I sort that out?",
        ("unplug", "unplugged", "unplugging", "plug"),
        ("hopper",),
        split="held-out-10",
    ),
    q(
        "Jonas",
        "unknown",
        "Is there a repair centre where I can drop the grinder off in person?",
        split="held-out-10",
    ),
    q(
        "Jonas",
        "follow-up",
        "Which extension do I need?",
        ("7",),
        before="What's the phone number for support?",
        split="held-out-10",
    ),
    q("Jonas", "chat", "Brilliant, that's fixed it. Cheers, Jonas!", split="held-out-10"),
    # Liesl, Velmora Thermal Baths (velmora-baths.md, ingested as a PDF)
    q(
        "Liesl",
        "fact",
        "What's the earliest sauna infusion I can catch in the day?",
        ("11",),
        split="held-out-10",
    ),
    q(
        "Liesl",
        "fact",
        "Can I go into the pools without a swimsuit?",
        ("no", "not", "can't", "cannot", "required", "must"),
        split="held-out-10",
    ),
    q(
        "Liesl",
        "fact",
        "If I leave my car in your car park for three hours while I'm bathing, what do I pay?",
        ("2",),
        split="held-out-10",
    ),
    q("Liesl", "unknown", "Are there lifeguards watching the pools?", split="held-out-10"),
    q(
        "Liesl",
        "follow-up",
        "And the herb sauna?",
        ("60",),
        before="How warm is the water in the salt grotto?",
        split="held-out-10",
    ),
    q(
        "Liesl",
        "chat",
        "Good morning! I've just got here and I can't wait to get in the water.",
        split="held-out-10",
    ),
    # Mira, Quillon Botanical Labs (quillon-handbook.md)
    q(
        "Mira",
        "fact",
        "Is the parental leave just for mums, or do dads get it too?",
        ("every", "both", "dads", "fathers", "too", "also", "as well"),
        split="held-out-10",
    ),
    q(
        "Mira",
        "fact",
        "What's that mentoring scheme for new starters called again?",
        ("sprouts", "sprout"),
        split="held-out-10",
    ),
    q(
        "Mira",
        "fact",
        "Apart from phoning, how else can I get hold of the IT helpdesk?",
        ("it help", "chat"),
        split="held-out-10",
    ),
    q(
        "Mira",
        "unknown",
        "I'm part-time, three days a week. How many days of holiday do I get?",
        split="held-out-10",
    ),
    q("Mira", "unknown", "Is there any sort of end-of-year bonus?", split="held-out-10"),
    q(
        "Mira",
        "follow-up",
        "Can I spend it on books as well?",
        ("yes", "book", "books"),
        before="Do we get any money for training courses?",
        split="held-out-10",
    ),
    # Otto, Marrowby makerspace (marrowby-makerspace.txt)
    q(
        "Otto",
        "fact",
        "How come you're shut on Mondays?",
        ("service", "serviced", "servicing", "maintenance", "maintained"),
        split="held-out-10",
    ),
    q(
        "Otto",
        "fact",
        "Where do I put my name down for the laser cutter induction?",
        ("front desk", "desk", "reception"),
        split="held-out-10",
    ),
    q(
        "Otto",
        "fact",
        "Two sheets of plywood and about 100 grams of filament: what would that come to "
        "altogether?",
        ("13",),
        split="held-out-10",
    ),
    q(
        "Otto",
        "unknown",
        "Can I leave my half-finished project here until next time?",
        split="held-out-10",
    ),
    q("Otto", "unknown", "Do you run sewing classes for beginners?", split="held-out-10"),
    q(
        "Otto",
        "follow-up",
        "From what age can she come on her own?",
        ("16",),
        before="My daughter's 13 and loves making things. Can she come along?",
        split="held-out-10",
    ),
    # Vesna, Kelderwick Observatory (kelderwick-observatory.md)
    q(
        "Vesna",
        "fact",
        "We've just joined the Friends of the Fell. Do we get any stargazing nights thrown in?",
        ("2",),
        split="held-out-10",
    ),
    q(
        "Vesna",
        "fact",
        "What do you charge per pupil for a school trip, and is there a minimum class size?",
        ("6",),
        ("15",),
        split="held-out-10",
    ),
    q(
        "Vesna",
        "fact",
        "If there's snow, can we still drive up to you?",
        ("no", "not", "closed", "can't", "cannot"),
        split="held-out-10",
    ),
    q(
        "Vesna",
        "fact",
        "On a Saturday in August, what time does the minibus leave the village?",
        ("9 pm", "9 in the evening", "9 at night", "9 o'clock", "21", "30 minutes", "half an hour"),
        split="held-out-10",
    ),
    q("Vesna", "unknown", "Are we allowed to bring our own picnic?", split="held-out-10"),
    q(
        "Vesna",
        "chat",
        "Evening! We've just driven up from the coast. What a view from up here!",
        split="held-out-10",
    ),
]


# Written on 2026-12-06 (evening) by a reviewer who had not seen the code under test.
HELD_OUT_11 = [
    # Tova, Halvard Ferries (halvard-ferries.txt)
    q(
        "Tova",
        "fact",
        "I've lost the confirmation email for my booking. What does the booking reference look "
        "like, so I know what to search my inbox for?",
        ("hf",),
        ("6",),
        split="held-out-11",
    ),
    q(
        "Tova",
        "fact",
        "We're spending a summer weekend on Brennoy. Is there a boat back to the mainland "
        "sometime in the late morning?",
        ("11:30", "11 30", "half past 11"),
        split="held-out-11",
    ),
    q(
        "Tova",
        "fact",
        "My grandson is doing a school project on local businesses. When did your company "
        "get started?",
        ("1957",),
        split="held-out-11",
    ),
    q(
        "Tova",
        "unknown",
        "I live on Brennoy and I'll be going over to Port Vellin for work most weekdays. Do you "
        "do a season ticket or some kind of commuter pass?",
        split="held-out-11",
    ),
    q(
        "Tova",
        "follow-up",
        "And is there somewhere in the lounge where she can stay in her chair during the crossing?",
        ("2", "wheelchair space", "wheelchair spaces"),
        before="My wife uses a wheelchair. Can she get around on the big ferries?",
        split="held-out-11",
    ),
    q(
        "Tova",
        "follow-up",
        "What's their phone number?",
        ("0199",),
        before="I think I left my sunglasses on the ferry yesterday. What should I do?",
        split="held-out-11",
    ),
    # Jonas, Zephyr K7 (zephyr-k7.md)
    q(
        "Jonas",
        "fact",
        "A mate of mine reckons the K7 is made in China. Where is it actually built?",
        ("tallinn",),
        split="held-out-11",
    ),
    q(
        "Jonas",
        "fact",
        "I want to start making cold brew in a big jar overnight. Where should I set the dial?",
        ("34",),
        ("40",),
        split="held-out-11",
    ),
    q(
        "Jonas",
        "fact",
        "I've just unpacked my K7 and there's a little bag of cleaning tablets in the box. How "
        "many are supposed to be in there?",
        ("3",),
        split="held-out-11",
    ),
    q(
        "Jonas",
        "fact",
        "When I'm dialling in the grinding time for a dose, how small are the steps I can "
        "change it by?",
        ("0.1", "tenth"),
        split="held-out-11",
    ),
    q(
        "Jonas",
        "unknown",
        "I've got some really oily dark-roast beans. Are they OK in the K7, or will they gum "
        "up the burrs?",
        split="held-out-11",
    ),
    q(
        "Jonas",
        "follow-up",
        "Which end of the scale is the finest?",
        ("1", "lowest", "lower"),
        before="How many grind settings does the K7 have?",
        split="held-out-11",
    ),
    # Liesl, Velmora Thermal Baths (velmora-baths.md, ingested as a PDF)
    q(
        "Liesl",
        "fact",
        "Can I go up to the restaurant for lunch in my bathrobe, or do I have to get dressed "
        "first?",
        ("yes", "can eat", "welcome", "allowed", "of course", "absolutely", "no need"),
        split="held-out-11",
    ),
    q(
        "Liesl",
        "fact",
        "Is the water in your big indoor pool real spring water?",
        ("yes", "fed", "directly", "straight"),
        split="held-out-11",
    ),
    q(
        "Liesl",
        "fact",
        "It's my first time in a sauna where you can't wear a swimsuit. Is there anything I "
        "should bring along?",
        ("towel",),
        split="held-out-11",
    ),
    q(
        "Liesl",
        "unknown",
        "My mother uses a wheelchair. Is there a hoist or a ramp to help her get into the Amber "
        "pool?",
        split="held-out-11",
    ),
    q(
        "Liesl",
        "unknown",
        "If I buy a day ticket, can I pop out into town for lunch and come back in afterwards?",
        split="held-out-11",
    ),
    q(
        "Liesl",
        "follow-up",
        "And have they been done up since then?",
        ("2019",),
        before="When were the baths founded?",
        split="held-out-11",
    ),
    # Mira, Quillon Botanical Labs (quillon-handbook.md)
    q(
        "Mira",
        "fact",
        "I think I dropped my badge on the bus this morning. Apart from paying for a new one, "
        "who should I tell straight away?",
        ("security",),
        split="held-out-11",
    ),
    q(
        "Mira",
        "fact",
        "Do bank holidays come out of my 27 days of leave, or do I get them on top?",
        ("plus", "on top", "addition", "additional", "extra", "as well", "separate"),
        split="held-out-11",
    ),
    q(
        "Mira",
        "fact",
        "My partner and I are planning a family. Would I still get my normal salary while I'm "
        "on parental leave?",
        ("full",),
        split="held-out-11",
    ),
    q(
        "Mira",
        "unknown",
        "My experiments sometimes run late into the evening. Do we get paid overtime or time "
        "off in lieu for that?",
        split="held-out-11",
    ),
    q(
        "Mira",
        "follow-up",
        "When will I get it?",
        ("first", "day 1"),
        before="Does IT give new people a laptop, or should I bring my own?",
        split="held-out-11",
    ),
    q(
        "Mira",
        "follow-up",
        "Is that paid every month or once a year?",
        ("month", "monthly"),
        before="Do we get anything towards cycling to work?",
        split="held-out-11",
    ),
    # Otto, Marrowby makerspace (marrowby-makerspace.txt)
    q(
        "Otto",
        "fact",
        "I'd never noticed the makerspace before. Has it been here long? When did it open?",
        ("2021",),
        split="held-out-11",
    ),
    q(
        "Otto",
        "fact",
        "I'd like to make some custom stickers for my laptop. Is there a machine here that can "
        "do that?",
        ("vinyl",),
        split="held-out-11",
    ),
    q(
        "Otto",
        "fact",
        "I've done the induction and I'm about to use the laser cutter for the first time. Is "
        "there any safety kit I have to put on?",
        ("glasses", "goggles", "eye protection"),
        split="held-out-11",
    ),
    q(
        "Otto",
        "unknown",
        "Could I book the makerspace for my son's birthday party with a few of his friends?",
        split="held-out-11",
    ),
    q(
        "Otto",
        "unknown",
        "My husband uses a wheelchair. Is there a lift down to the makerspace?",
        split="held-out-11",
    ),
    q(
        "Otto",
        "follow-up",
        "What if my bus is late and I only get there 20 minutes after my start time?",
        ("15", "waiting list", "next person", "someone else"),
        before="Can I book one of the sewing machines for Saturday afternoon?",
        split="held-out-11",
    ),
    # Vesna, Kelderwick Observatory (kelderwick-observatory.md)
    q(
        "Vesna",
        "fact",
        "My nephew is crazy about Saturn. Is there anything on in the planetarium about it?",
        ("ringed planet",),
        split="held-out-11",
    ),
    q(
        "Vesna",
        "fact",
        "We'll be frozen after the stargazing. Will the café still be open afterwards for a hot "
        "chocolate?",
        ("11",),
        split="held-out-11",
    ),
    q(
        "Vesna",
        "fact",
        "There are eight of us and we'd love the big reflector telescope to ourselves for an "
        "evening. What would that cost, and which night of the week could we do it?",
        ("120",),
        ("thursday", "thursdays"),
        split="held-out-11",
    ),
    q(
        "Vesna",
        "fact",
        "We'd rather hike up from Kelderwick than drive. Roughly how long is the walk?",
        ("50",),
        split="held-out-11",
    ),
    q(
        "Vesna",
        "unknown",
        "Is there a cloakroom where we can leave our coats and bags while we're in the "
        "planetarium?",
        split="held-out-11",
    ),
    q(
        "Vesna",
        "follow-up",
        "And how many are there in each group with an astronomer?",
        ("8",),
        before="How many people go on one stargazing evening?",
        split="held-out-11",
    ),
]


QUESTIONS = (
    TUNE
    + HELD_OUT
    + HELD_OUT_2
    + HELD_OUT_3
    + HELD_OUT_4
    + HELD_OUT_5
    + HELD_OUT_6
    + HELD_OUT_7
    + HELD_OUT_8
    + HELD_OUT_9
    + HELD_OUT_10
    + HELD_OUT_11
)


# Documents and indexes


def document_source(name: str) -> str:
    """A document's text as the server would store it (the PDF ones through the PDF path)."""
    raw = (DOCUMENTS / name).read_text()
    if name in PDF_DOCUMENTS:
        return document_text(text_pdf(raw), "application/pdf")
    return raw


def build_index(names: Sequence[str], settings: Settings) -> KnowledgeIndex:
    sources: list[Source] = []
    vectors = []
    for name in names:
        indexed = index_text(document_source(name), settings.resolved_models_dir, max_tokens=10**9)
        sources += [Source(name, name, i, p.text, p.tokens) for i, p in enumerate(indexed.passages)]
        vectors += indexed.vectors
    return KnowledgeIndex(sources, vectors, embedder(settings.resolved_models_dir))


# Scoring


@dataclass
class Score:
    ok: bool
    failed: list[str] = field(default_factory=list)


def _normalise(text: str) -> str:
    """``bench/answers.py``'s normalisation, and ordinals as numbers ("25th" = "25"; added after
    the first held-out run, where "paid on the 25th" was scored wrong)."""
    return re.sub(r"\b(\d+)(st|nd|rd|th)\b", r"\1", normalise(text))


def score(question: Question, answer: str, known_numbers: set[str]) -> Score:
    persona = CASTS[question.persona].persona
    t = _normalise(answer)
    facts = _normalise(facts_said(answer))
    failed: list[str] = []
    for group in question.expect:
        if not any(_has(facts, alt) for alt in group):
            failed.append("missing " + "/".join(group))
    if question.category == "unknown":
        if not any(re.search(p, t) for p in ADMITS):
            failed.append("does not admit not knowing")
        invented = _numbers(t) - known_numbers
        if invented:
            failed.append("invents " + ", ".join(sorted(invented)))
    if question.category == "chat" and any(re.search(p, t) for p in ADMITS):
        failed.append("says it does not know")
    if not t:
        failed.append("empty")
    if not first_person_ok(answer, persona):
        failed.append("third person")
    return Score(not failed, failed)


def found(question: Question, passages: Sequence[str]) -> bool | None:
    """Whether the passages given hold every expected fact (``None`` for unknowns)."""
    if question.category == "unknown" or not question.expect:
        return None
    text = _normalise(" ".join(passages))
    return all(any(_has(text, alt) for alt in group) for group in question.expect)


# Accuracy


@dataclass
class Result:
    question: Question
    answer: str
    first_answer: str | None
    passages: list[str]
    score: Score
    timings: dict[str, Any]
    replaced: str = ""
    """The model's words the answer check replaced (``AgentDone.replaced``)."""

    def as_dict(self) -> dict[str, Any]:
        q = self.question
        return {
            "persona": q.persona,
            "category": q.category,
            "split": q.split,
            "question": q.text,
            "before": q.before,
            "first_answer": self.first_answer,
            "answer": self.answer,
            "replaced": self.replaced,
            "passages": self.passages,
            "retrieved_answer": found(q, self.passages),
            "ok": self.score.ok,
            "failed": self.score.failed,
            **self.timings,
        }


def _answer(conversation: Conversation, text: str) -> tuple[AgentDone, list[str]]:
    given: list[str] = []
    search = conversation.retrieve

    def spy(words: str) -> Sequence[str]:
        assert search is not None
        out = list(search(words))
        given[:] = out
        return out

    if search is not None:
        conversation.retrieve = spy
    done = None
    for event in conversation.respond(text):
        if isinstance(event, AgentDone):
            done = event
    conversation.retrieve = search
    assert done is not None
    return done, given


def run_accuracy(
    engines: Engines,
    questions: Sequence[Question],
    indexes: dict[str, KnowledgeIndex],
    verbose: bool,
) -> Iterator[Result]:
    warmed: str | None = None
    for question in questions:
        cast = CASTS[question.persona]
        character = cast.character(indexes[question.persona])
        if warmed != question.persona:
            engines.warm(character)
            warmed = question.persona
        conversation = Conversation(engines, character)
        first: str | None = None
        if question.before:
            conversation.prepare()
            done, _ = _answer(conversation, question.before)
            first = done.text
            conversation.remember(question.before, done.remembered)
        conversation.prepare()
        done, passages = _answer(conversation, question.text)
        known = set()
        for name in cast.documents:
            known |= _numbers(normalise(document_source(name)))
        known |= _numbers(normalise(cast.persona.personality + " " + cast.persona.start))
        result = Result(
            question,
            done.text,
            first,
            passages,
            score(question, done.text, known),
            done.timings.as_dict(),
            done.replaced,
        )
        if verbose:
            mark = "ok " if result.score.ok else "BAD"
            print(
                f"{mark} [{question.split} {question.category}] {question.persona}: {question.text}"
            )
            if first is not None:
                print(f"      (before: {question.before} → {first})")
            print(f"      → {done.text}")
            if done.replaced:
                print(f"      (replaced: {done.replaced})")
            got = found(question, passages)
            print(
                f"      passages: {len(passages)}, {sum(map(len, passages))} chars, answer in them: {got}"
            )
            if result.score.failed:
                print(f"      {'; '.join(result.score.failed)}")
        yield result


def accuracy_summary(results: Sequence[Result]) -> dict[str, Any]:
    def rate(rs: Sequence[Result]) -> dict[str, Any]:
        n = len(rs)
        return {"n": n, "accuracy": sum(r.score.ok for r in rs) / n if n else None}

    out: dict[str, Any] = {}
    for split in (*SPLITS, "all"):
        rs = [r for r in results if split == "all" or r.question.split == split]
        if not rs:
            continue
        cats = {c: rate([r for r in rs if r.question.category == c]) for c in CATEGORIES}
        retrieved = [f for r in rs if (f := found(r.question, r.passages)) is not None]
        out[split] = {
            "overall": rate(rs),
            "categories": {c: v for c, v in cats.items() if v["n"]},
            "answer_in_passages": sum(retrieved) / len(retrieved) if retrieved else None,
        }
    out["hedged"] = hedged([(r.question.category, r.answer, r.score.ok) for r in results])
    return out


# Latency cost of the passages


def partial_words(text: str, share: float = 0.75) -> str:
    """The first ``share`` of a question's words: what a partial transcript holds while the
    user is still speaking (the listener transcribes every 1.5 s of speech)."""
    words = text.split()
    return " ".join(words[: max(1, math.ceil(len(words) * share))])


def run_latency(
    engines: Engines, questions: Sequence[Question], indexes: dict[str, KnowledgeIndex]
) -> dict[str, Any]:
    """Each fact question answered without its documents, with them, and with them after the
    passages for the first three quarters of its words were put into the model's cache
    (``Conversation.anticipate``, as a live call does on a partial transcript), in turn."""
    modes = ("without", "with", "anticipated")
    timings: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    same = 0
    asked = 0
    for question in questions:
        if question.category != "fact":
            continue
        cast = CASTS[question.persona]
        for mode in modes:
            index = indexes[question.persona] if mode != "without" else None
            character = cast.character(index)
            engines.warm(character)
            conversation = Conversation(engines, character)
            conversation.prepare()
            if mode == "anticipated":
                assert index is not None
                partial = partial_words(question.text)
                conversation.anticipate(partial)
                asked += 1
                same += index.search(partial).texts == index.search(question.text).texts
            done, _ = _answer(conversation, question.text)
            timings[mode].append(done.timings.as_dict())
    out: dict[str, Any] = {"anticipated_same_passages": same / asked if asked else None}
    for mode, rows in timings.items():
        out[mode] = {"n": len(rows)}
        for key in ("retrieval_s", "llm_first_token_s", "first_speech_text_s", "knowledge_chars"):
            values = [r[key] for r in rows if r.get(key) is not None]
            if values:
                out[mode][key] = {"p50": pct(values, 50), "p95": pct(values, 95)}
    return out


# Retrieval at the per-avatar limit

VENUES = "Orla Brightwater Kessel Tamsin Ruvik Poltar Amsel Doria Fennick Holm Ixley Jarrow".split()
KINDS = (
    "museum library pool clinic garage bakery theatre gallery market studio hostel harbour".split()
)
STAFF = "Petra Amos Lidia Cyrus Noor Bertil Sanne Ivo Greta Matteo Ylva Oskar".split()
SURNAMES = "Hale Brandt Okafor Lind Moreau Varga Sato Quist Ferro Nakamura Duval Eklund".split()
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()


def filler_document(rng: random.Random, n: int) -> str:
    """An invented venue's guide, on the same subjects as the real documents (hours, prices,
    people, rules): passages that look like answers, to test retrieval among look-alikes."""
    name = f"{rng.choice(VENUES)} {rng.choice(KINDS).title()} {n}"
    a, b = rng.sample(DAYS, 2)
    lines = [
        f"# {name} - Guide",
        "",
        "## Opening hours",
        f"The {name} is open from {rng.randint(6, 10)} am to {rng.randint(4, 11)} pm, {a} to "
        f"{b}. It is closed on public holidays and on the first {rng.choice(DAYS)} of the month.",
        "",
        "## Prices",
        f"Entry costs {rng.randint(3, 60)} dollars for adults and {rng.randint(1, 20)} dollars "
        f"for children. A yearly pass costs {rng.randint(80, 400)} dollars. Lockers cost "
        f"{rng.randint(1, 5)} dollars and parking {rng.randint(1, 6)} dollars an hour.",
        "",
        "## People",
        f"The manager is {rng.choice(STAFF)} {rng.choice(SURNAMES)} and the deputy is "
        f"{rng.choice(STAFF)} {rng.choice(SURNAMES)}. Questions go to extension "
        f"{rng.randint(1000, 9999)}.",
        "",
        "## Rules",
        f"Children under {rng.randint(3, 16)} must be accompanied. Dogs are "
        f"{rng.choice(['welcome on a lead', 'not allowed', 'allowed in the garden only'])}. "
        f"Bookings can be cancelled free of charge up to {rng.randint(2, 72)} hours before. "
        f"Lost items are kept for {rng.randint(7, 120)} days at the front desk.",
        "",
        "## History",
        f"The {name} was founded in {rng.randint(1850, 2015)} and renovated in "
        f"{rng.randint(1990, 2025)}. Its best known feature is the "
        f"{rng.choice(['glass roof', 'old clock', 'garden', 'tower', 'mosaic floor'])}.",
    ]
    return "\n".join(lines)


def run_retrieval(
    questions: Sequence[Question], settings: Settings, repeats: int = 3
) -> dict[str, Any]:

    model = embedder(settings.resolved_models_dir)
    texts = {name: document_source(name) for c in CASTS.values() for name in c.documents}
    rng = random.Random(7)
    total = sum(model.count_tokens(list(texts.values())))
    n = 0
    while total < settings.knowledge_max_tokens:
        text = filler_document(rng, n)
        tokens = model.count_tokens([text])[0]
        if total + tokens > settings.knowledge_max_tokens:
            break
        texts[f"filler-{n}"] = text
        total += tokens
        n += 1
    started = time.perf_counter()
    sources: list[Source] = []
    vectors = []
    for name, text in texts.items():
        indexed = index_text(text, settings.resolved_models_dir, max_tokens=10**9)
        sources += [Source(name, name, i, p.text, p.tokens) for i, p in enumerate(indexed.passages)]
        vectors += indexed.vectors
    embedded_s = time.perf_counter() - started
    started = time.perf_counter()
    index = KnowledgeIndex(sources, vectors, model)
    build_s = time.perf_counter() - started
    embedding: list[float] = []
    for question in questions:
        started = time.perf_counter()
        model.embed([question.text])
        embedding.append(time.perf_counter() - started)
    # A turn's first search embeds the words; the index keeps the last query's vectors, so
    # searching the same words again (a partial transcript that turned out final) skips that.
    # Both are timed, apart: the first is the cost per turn.
    latencies: list[float] = []
    again: list[float] = []
    hits_small: list[bool] = []
    hits_large: list[bool] = []
    small = {c.persona.name: build_index(c.documents, settings) for c in CASTS.values()}
    for question in questions:
        context = question.before or ""
        for repeat in range(repeats):
            search = index.search(
                question.text, context=context, max_chars=settings.knowledge_max_chars
            )
            (again if repeat else latencies).append(search.seconds)
        ok = found(question, search.texts)
        if ok is not None:
            hits_large.append(ok)
            alone = small[question.persona].search(
                question.text, context=context, max_chars=settings.knowledge_max_chars
            )
            hits_small.append(bool(found(question, alone.texts)))
    return {
        "documents": len(texts),
        "passages": len(index),
        "vectors": len(index._vectors),
        "tokens": total,
        "embed_question_ms": {"p50": 1000 * pct(embedding, 50), "p95": 1000 * pct(embedding, 95)},
        "index_build_s": build_s,
        "embedding_s": embedded_s,
        "searches": len(latencies),
        "search_ms": {
            "p50": 1000 * pct(latencies, 50),
            "p95": 1000 * pct(latencies, 95),
            "max": 1000 * max(latencies),
        },
        "search_again_ms": {"p50": 1000 * pct(again, 50), "p95": 1000 * pct(again, 95)},
        "answer_found": {
            "own_documents": sum(hits_small) / len(hits_small),
            "among_50k_tokens": sum(hits_large) / len(hits_large),
            "n": len(hits_large),
        },
    }


# Ingestion


def run_ingestion(settings: Settings) -> dict[str, Any]:
    """A PDF of every document and generated text: extracted, cut, embedded and stored."""
    from characters.knowledge.store import save_index
    from characters.store.db import Database
    from characters.store.tables import Document, Organization
    from characters.timeutil import utcnow

    rng = random.Random(11)
    text = "\n\n".join(document_source(n) for c in CASTS.values() for n in c.documents)
    text += "\n\n" + "\n\n".join(filler_document(rng, i) for i in range(120))
    pages = paginate(text)
    pdf = pdf_bytes(pages)
    embedder(settings.resolved_models_dir)  # loaded once per process: not part of a document

    async def store(indexed: Any, content: str) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(async_url(f"sqlite:///{tmp}/bench.db"))
            await db.migrate()
            started = time.perf_counter()
            async with db.transaction() as session:
                now = utcnow()
                org = Organization(
                    id=str(uuid.uuid4()), name="bench", tier=1, credit_balance=0, created_at=now
                )
                session.add(org)
                await session.flush()
                doc = Document(
                    id=str(uuid.uuid4()),
                    organization_id=org.id,
                    name="bench",
                    type="file",
                    content=content,
                    created_at=now,
                    updated_at=now,
                )
                session.add(doc)
                await session.flush()
                await save_index(session, doc, indexed)
            elapsed = time.perf_counter() - started
            await db.aclose()
            return elapsed

    started = time.perf_counter()
    content = document_text(pdf, "application/pdf")
    extract_s = time.perf_counter() - started
    started = time.perf_counter()
    indexed = index_text(content, settings.resolved_models_dir, max_tokens=10**9)
    index_s = time.perf_counter() - started
    store_s = asyncio.run(store(indexed, content))
    total = extract_s + index_s + store_s
    return {
        "pages": len(pages),
        "pdf_bytes": len(pdf),
        "tokens": indexed.tokens,
        "passages": len(indexed.passages),
        "extract_s": extract_s,
        "chunk_and_embed_s": index_s,
        "store_s": store_s,
        "total_s": total,
        "pages_per_s": len(pages) / total,
        "tokens_per_s": indexed.tokens / total,
    }


# Main


def _print_accuracy(s: dict[str, Any]) -> None:
    for split in (*SPLITS, "all"):
        if split not in s:
            continue
        part = s[split]
        o = part["overall"]
        cats = "  ".join(
            f"{c} {v['accuracy']:.0%} ({v['n']})" for c, v in part["categories"].items()
        )
        found_ = part["answer_in_passages"]
        extra = f"  answer in passages {found_:.0%}" if found_ is not None else ""
        print(f"{split:10s} overall {o['accuracy']:.0%} ({o['n']})  {cats}{extra}")
    if "hedged" in s:
        _print_hedged(s["hedged"])


def rescore(path: Path) -> dict[str, Any]:
    """The accuracy of a results file's answers with the current scorer (same questions)."""
    report = json.loads(path.read_text())
    by_text = {(x.persona, x.text): x for x in QUESTIONS}
    results = []
    for row in report["results"]:
        question = by_text[(row["persona"], row["question"])]
        cast = CASTS[question.persona]
        known = set()
        for name in cast.documents:
            known |= _numbers(normalise(document_source(name)))
        known |= _numbers(normalise(cast.persona.personality + " " + cast.persona.start))
        results.append(
            Result(
                question,
                row["answer"],
                row["first_answer"],
                row["passages"],
                score(question, row["answer"], known),
                {},
            )
        )
    s = accuracy_summary(results)
    _print_accuracy(s)
    return s


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="llm_model (a registry id, or the remote model name)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only these parts")
    parser.add_argument("--skip", choices=PARTS, action="append", default=[])
    parser.add_argument("--split", choices=(*SPLITS, "all"), default="all")
    parser.add_argument("--persona", choices=sorted(CASTS))
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--rescore", type=Path, help="score the answers of an earlier results file again, and exit"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.rescore:
        return rescore(args.rescore)
    overrides = dict(item.split("=", 1) for item in args.set)
    settings = load_settings(**{k: setting_value(v) for k, v in overrides.items()})
    if args.model:
        settings = settings.model_copy(update={"llm_model": args.model})
    parts = [p for p in (args.only or PARTS) if p not in args.skip]
    engine_module.synthesize = silent_synthesis  # type: ignore[assignment]
    questions = [
        x
        for x in QUESTIONS
        if (args.split == "all" or x.split == args.split)
        and (args.persona is None or x.persona == args.persona)
    ]
    report: dict[str, Any] = {
        "model": settings.llm_model,
        "settings": {
            "llm_model": settings.llm_model,
            "llm_temperature": settings.llm_temperature,
            "knowledge_max_chars": settings.knowledge_max_chars,
            "knowledge_max_tokens": settings.knowledge_max_tokens,
            "llm_facts": settings.llm_facts,
        },
        "held_out": "split 'held-out' was written after tuning on split 'tune' and run once "
        "with the code then frozen; 'held-out-2' was written after the changes that run "
        "prompted, and run once; 'held-out-3' after the relevance threshold was recalibrated "
        "on 'tune', and run once; 'held-out-4' was written on 2026-12-05, before the code it "
        "tests was changed; 'held-out-5' was also written on 2026-12-05, before the code it "
        "tests was changed; 'held-out-6' and 'held-out-7' likewise on 2026-12-05 and 2026-12-06; "
        "'held-out-8' on 2026-12-06 (night), 'held-out-9' on 2026-12-06 (day) and 'held-out-10' "
        "on 2026-12-06 (afternoon), each by a reviewer who had not seen the code",
    }
    started = time.monotonic()
    if "ingestion" in parts:
        ing = run_ingestion(settings)
        report["ingestion"] = ing
        print(
            f"ingestion: {ing['pages']} PDF pages, {ing['tokens']:,} tokens, {ing['passages']} "
            f"passages in {ing['total_s']:.1f} s: {ing['pages_per_s']:.2f} pages/s, "
            f"{ing['tokens_per_s']:,.0f} tokens/s (extract {ing['extract_s']:.2f} s, chunk and "
            f"embed {ing['chunk_and_embed_s']:.1f} s, store {ing['store_s']:.2f} s)"
        )
    if "retrieval" in parts:
        ret = run_retrieval(questions, settings)
        report["retrieval"] = ret
        ms = ret["search_ms"]
        found_ = ret["answer_found"]
        print(
            f"retrieval: {ret['passages']} passages ({ret['vectors']} vectors), {ret['tokens']:,} tokens "
            f"({ret['documents']} documents; index built in {ret['index_build_s'] * 1000:.0f} ms): "
            f"search p50 {ms['p50']:.1f} ms, p95 {ms['p95']:.1f} ms, max {ms['max']:.1f} ms "
            f"(embedding the words alone p50 {ret['embed_question_ms']['p50']:.1f} ms; the same "
            f"words searched again p50 {ret['search_again_ms']['p50']:.1f} ms); "
            f"answer in the passages {found_['own_documents']:.0%} with the character's own "
            f"documents, {found_['among_50k_tokens']:.0%} among {ret['tokens']:,} tokens "
            f"({found_['n']} questions)"
        )
    engines = None
    if "accuracy" in parts or "latency" in parts:
        engines = Engines.load(settings, listen=False)
        indexes = {
            name: build_index(c.documents, settings)
            for name, c in CASTS.items()
            if args.persona is None or name == args.persona
        }
    if "accuracy" in parts:
        assert engines is not None
        results = list(run_accuracy(engines, questions, indexes, args.verbose))
        s = accuracy_summary(results)
        report["accuracy"] = s
        report["results"] = [r.as_dict() for r in results]
        _print_accuracy(s)
        lat = [r.timings["retrieval_s"] for r in results if r.timings.get("retrieval_s")]
        if lat:
            print(
                f"retrieval in the turn: p50 {1000 * pct(lat, 50):.1f} ms, p95 {1000 * pct(lat, 95):.1f} ms"
            )
    if "latency" in parts:
        assert engines is not None
        lat = run_latency(engines, questions, indexes)
        report["latency"] = lat
        for mode, v in lat.items():
            if not isinstance(v, dict):
                continue
            parts_ = [
                f"{k} p50 {x['p50']:.3f} p95 {x['p95']:.3f}" for k, x in v.items() if k != "n"
            ]
            print(f"latency {mode:11s} ({v['n']}): " + "; ".join(parts_))
        print(f"anticipation found the same passages for {lat['anticipated_same_passages']:.0%}")
    print(f"done in {time.monotonic() - started:.0f} s")
    out = args.out or Path(__file__).parent / "results" / f"knowledge-{settings.llm_model}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
