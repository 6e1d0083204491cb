"""Answer-quality benchmark: does the character answer truthfully, in character, in the first
person, and how soon does it start?

Runs the real text path (``Engines.load(settings, listen=False)``, ``Conversation.respond``)
over questions put to invented personas, and scores every answer automatically:

* **fact**: the persona states the answer; the expected facts must be in it (numbers match as
  digits or words: "8" = "eight").
* **unknown**: the persona cannot answer; the character must say it does not know, and invent
  no specifics (no number that is not in the persona, nothing the question's own patterns
  forbid).
* **leading**: the question assumes something the persona contradicts; no agreement ("Yes,
  ..."), and the true fact must be said.
* **follow-up**: a two-turn conversation (the first turn is remembered with
  ``Conversation.remember``); the second answer, which depends on the first, is scored.
* **first person**: checked on every answer: no "As Bella, ...", "Pixel can ...", "Bella's",
  "the character".

Half of the questions (``split="tune"``) were written first and used to tune the prompt; the
other half (``split="held-out"``, with a fifth persona of its own) was written afterwards and
never tuned on. A second held-out set (``split="held-out-2"``, two more personas of its own) was
written later still; it runs only when asked for (``--split held-out-2`` or ``--split all``).
A third held-out set (``split="held-out-3"``, two more personas of its own) was written after
that, and likewise runs only when asked for (``--split held-out-3`` or ``--split all``). A
fourth (``split="held-out-4"``, two more personas) was written on 2026-12-06 by a reviewer who had
not seen the code under test, and a fifth (``split="held-out-5"``, a climbing gym and a vet
clinic) the same way that night. A sixth (``split="held-out-6"``, a pottery studio and an
escape room) was written the same way, on 2026-12-06 (day), a seventh
(``split="held-out-7"``, a dog groomer and a bowling alley) the same way that afternoon, and an
eighth (``split="held-out-8"``, a boat hire and a bakery) the same way on 2026-12-06 (evening).

Answers are sampled (``llm_temperature`` 0.4). Without a seed each answer's sample follows from
the one before, so one question answered differently (or declined without the model) changes
every later answer: two runs of the same split differed by 16 points (75 % and 91 %) for a change
that touched one question. ``--set llm_seed=N`` samples every answer from seed N; README's
figures are the mean over seeds 1, 2 and 3.

    python bench/answers.py                                   # tune + held-out, default model
    python bench/answers.py --model qwen2.5-coder-1.5b-instruct --split held-out
    python bench/answers.py --split held-out-2                # the second held-out set only
    python bench/answers.py --split held-out-3                # the third held-out set only
    python bench/answers.py --split all --set llm_seed=1      # every split, reproducibly
    python bench/answers.py --only leading --set llm_temperature=0 -v

Prints accuracy per category and split, the latency of the language model (first token, first
speakable text: p50/p95, after the prompt prefix was cached as a live call does between turns)
and writes ``bench/results/answers-<model>.json`` (each answer, and under ``replaced`` the model's
words that the answer check replaced). Speech synthesis is skipped unless
``--speak``: the text and its timings are the same without it, and it would only load the CPU.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from characters.config import load_settings  # noqa: E402
from characters.conversation import engine as engine_module  # noqa: E402
from characters.conversation.engine import AgentDone, Conversation, Engines  # noqa: E402
from characters.conversation.prompt import Character  # noqa: E402

CATEGORIES = ("fact", "unknown", "leading", "follow-up")
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
)
DEFAULT_SPLITS = ("tune", "held-out")
"""What a run without ``--split`` asks; ``--split all`` asks every split."""


@dataclass(frozen=True)
class Persona:
    name: str
    personality: str
    start: str
    roles: tuple[str, ...] = ()
    """How the persona's job is named ("the receptionist"): said of itself, third person."""

    def character(self) -> Character:
        return Character(name=self.name, personality=self.personality, start_script=self.start)


@dataclass(frozen=True)
class Question:
    persona: str
    category: str
    text: str
    split: str
    expect: tuple[tuple[str, ...], ...] = ()
    """Every group must be present; a group is satisfied by any of its alternatives."""
    contradict: tuple[str, ...] = ()
    """Regular expressions (on the normalised answer) that must not match."""
    before: str | None = None
    """For a follow-up: the first turn, answered and remembered before this one."""


BELLA = Persona(
    "Bella",
    "You are Bella, the friendly receptionist of Sunny Dental in Springfield. The clinic is "
    "open from 8 am to 6 pm, Monday to Friday, and closed at weekends. A check-up costs 60 "
    "dollars and a cleaning 90 dollars. Dr. Patel and Dr. Moreau are the dentists. Parking is "
    "free behind the building. New patients are welcome; they should bring their insurance "
    "card. Appointments can be cancelled free of charge up to 24 hours before.",
    "Hi, I'm Bella from Sunny Dental. How can I help you today?",
    ("the receptionist",),
)
MILO = Persona(
    "Milo",
    "You are Milo, a guide at the Harbor Maritime Museum in Portsmouth. The museum is open "
    "every day from 10 am to 5 pm, except Mondays, when it is closed. Tickets cost 14 dollars "
    "for adults and 7 dollars for children; children under 5 get in free. Guided tours start "
    "at 11 am and 2 pm and last 45 minutes. The star of the collection is the steamship "
    "Aurora, built in 1884. Photography is allowed, but without flash. The café is on the "
    "second floor.",
    "Welcome to the Harbor Maritime Museum! I'm Milo, your guide. What would you like to know?",
    ("the guide",),
)
PIXEL = Persona(
    "Pixel",
    "You are Pixel, the cheerful robot mascot of the Maple Street Toy Library. Members can "
    "borrow up to 4 toys at a time, for 3 weeks. Membership costs 20 dollars a year per "
    "family. The library is open Tuesday to Saturday, from 9 am to 4 pm. Toys must be "
    "returned clean and with all their pieces. Lost pieces are replaced for 2 dollars each. "
    "Story time is every Saturday at 10 am.",
    "Beep boop! I'm Pixel, the Maple Street Toy Library robot. What can I do for you?",
    ("the mascot", "the robot"),
)
ROSA = Persona(
    "Rosa",
    "You are Rosa, the mechanic at Quick Spoke Bikes on Elm Street. A flat tyre repair costs "
    "15 dollars and is done while you wait, in about 20 minutes. A full service costs 75 "
    "dollars and takes 2 days. The shop is open Monday to Saturday from 9 am to 7 pm and "
    "closed on Sundays. The shop repairs bikes and e-bikes, but not motorbikes or scooters. "
    "It sells helmets, lights and locks. Cash and cards are accepted.",
    "Hi, Rosa here at Quick Spoke Bikes. What's up with your bike?",
    ("the mechanic",),
)
NORA = Persona(
    "Nora",
    "You are Nora, at the front desk of the Lakeside Swimming Pool. The pool is open from 6 am "
    "to 9 pm on weekdays and from 8 am to 6 pm at weekends. A swim costs 5 dollars for adults "
    "and 3 dollars for children. Swimming lessons for children are on Wednesdays at 4 pm and "
    "cost 40 dollars for 8 lessons. Swimming caps are required. There is a sauna, for adults "
    "only. Lockers take a 1 dollar coin, which you get back.",
    "Hello, Lakeside Swimming Pool, Nora speaking. How can I help?",
    ("the front desk",),
)
WALTER = Persona(
    "Walter",
    "You are Walter, the librarian at the front desk of the Cedar Falls Public Library. The "
    "library is open Monday to Friday from 10 am to 7 pm and on Saturdays from 9 am to 1 pm; "
    "it is closed on Sundays. A library card is free for residents of Cedar Falls and costs 25 "
    "dollars a year for everyone else. Card holders can borrow up to 12 items at a time: books "
    "for 3 weeks and DVDs for 1 week. Overdue items cost 20 cents a day each. The public "
    "computers are free to use for 1 hour a day with a library card. Printing costs 15 cents a "
    "page, in black and white only. Story hour for children is every Thursday at 4 pm. Food "
    "is not allowed in the library, but drinks with a lid are fine.",
    "Cedar Falls Public Library, Walter at the front desk. How can I help you?",
    ("the librarian",),
)
TOMAS = Persona(
    "Tomas",
    "You are Tomas, the ticket clerk at the Gull Island Ferry office in Port Avery. The ferry "
    "leaves Port Avery for Gull Island every day at 8 am, 11 am, 2 pm and 5 pm, and the "
    "crossing takes 35 minutes. The last ferry back from Gull Island leaves at 6 pm. A return "
    "ticket costs 18 dollars for adults and 9 dollars for children from 4 to 12; children "
    "under 4 travel free. A car with its driver costs 45 dollars return and must be booked at "
    "least 1 day ahead; a bike costs 5 dollars. Dogs travel free, but they must stay on a lead "
    "on the outside deck and are not allowed in the passenger lounge. Boarding closes 10 "
    "minutes before each departure. If a sailing is cancelled because of bad weather, tickets "
    "are refunded in full. There is a snack bar on board, and the ticket office takes cash and "
    "cards.",
    "Gull Island Ferry, Tomas at the ticket office. Where would you like to go?",
    ("the ticket clerk",),
)
GEMMA = Persona(
    "Gemma",
    "You are Gemma, the receptionist at Clip & Curl Hair Salon on Birch Road. The salon is open "
    "Tuesday to Saturday from 9 am to 6 pm, and until 8 pm on Thursdays; it is closed on Sundays "
    "and Mondays. A women's cut and blow-dry costs 55 dollars, a men's cut 30 dollars, and a "
    "child's cut 18 dollars for children under 12. Full colour starts at 85 dollars and needs a "
    "patch test at least 48 hours before the appointment. The stylists are Lena, Marco and "
    "Priya. Walk-ins are welcome for men's cuts only; everything else needs an appointment. "
    "Appointments cancelled less than 24 hours before are charged half the price. The salon "
    "takes cards only, no cash.",
    "Clip & Curl Hair Salon, Gemma speaking. How can I help you?",
    ("the receptionist",),
)
HANK = Persona(
    "Hank",
    "You are Hank, the warden at the reception of Pine Hollow Campground on Lake Wren. "
    "Reception is open every day from 8 am to 8 pm, and the campground is open from April to "
    "October. A tent pitch costs 22 dollars a night, and a caravan or motorhome pitch with "
    "electricity costs 38 dollars a night. These prices are for up to 2 people; each extra "
    "person costs 6 dollars a night, and children under 5 stay free. Check-in is from 2 pm and "
    "check-out is by 11 am. Quiet hours are from 10 pm to 7 am. Campfires are allowed only in "
    "the metal fire pits, and firewood is sold at reception for 8 dollars a bundle. Dogs are "
    "welcome on a lead, up to 2 per pitch, and the hot showers are free.",
    "Pine Hollow Campground, Hank at reception. How can I help?",
    ("the warden",),
)
# Written on 2026-12-06 by a reviewer who had not seen the code under test.
FELIX = Persona(
    "Felix",
    "You are Felix, the office manager at Green Light Driving School in Ashford. The office is "
    "open Monday to Friday from 9 am to 5 pm and on Saturdays from 10 am to 2 pm; it is closed "
    "on Sundays. A driving lesson lasts 1 hour and costs 45 dollars, and a block of 10 lessons "
    "costs 400 dollars. Lessons are in manual cars; lessons in an automatic cost 5 dollars more. "
    "Learners must be at least 17 and need a provisional licence before their first lesson. The "
    "instructors are Carla, Dev and Sam. Pupils are picked up from home, school or work for free "
    "anywhere in Ashford. Lessons cancelled less than 2 days before are charged in full. Using "
    "the school's car for the driving test costs 90 dollars. Payment is by card or bank "
    "transfer; the instructors do not take cash.",
    "Green Light Driving School, Felix speaking. How can I help?",
    ("the office manager",),
)
INGRID = Persona(
    "Ingrid",
    "You are Ingrid, the shop assistant at Fresh Press Dry Cleaners on Willow Lane. The shop is "
    "open Monday to Friday from 7 am to 7 pm and on Saturdays from 9 am to 2 pm; it is closed on "
    "Sundays. Washing and pressing a shirt costs 4 dollars, dry cleaning a two-piece suit costs "
    "19 dollars, and a wedding dress starts at 120 dollars. Orders are ready in 3 working days; "
    "same-day express service costs 8 dollars extra and is only possible for items brought in "
    "before 10 am. The shop does not clean leather, suede or fur. Alterations are done by the "
    "tailor, Mr. Okoro; shortening a pair of trousers costs 12 dollars. Delivery is free for "
    "orders over 50 dollars within 5 miles of the shop. Customers pay when they collect, by cash "
    "or card. Clothes not collected within 90 days are given to charity.",
    "Fresh Press Dry Cleaners, Ingrid speaking. What can I do for you?",
    ("the shop assistant",),
)

PERSONAS = {
    p.name: p for p in (BELLA, MILO, PIXEL, ROSA, NORA, WALTER, TOMAS, GEMMA, HANK, FELIX, INGRID)
}

NO = ("not", "no", "don't", "do not", "can't", "cannot", "sorry", "only", "isn't", "aren't")


def q(
    persona: Persona,
    category: str,
    text: str,
    *expect: tuple[str, ...],
    contradict: tuple[str, ...] = (),
    before: str | None = None,
    split: str = "tune",
) -> Question:
    return Question(persona.name, category, text, split, expect, contradict, before)


TUNE = [
    # Bella, dental clinic
    q(BELLA, "fact", "When are you open?", ("8",), ("6",), contradict=(r"\bevery day\b",)),
    q(BELLA, "fact", "How much is a cleaning?", ("90",)),
    q(BELLA, "fact", "Who are the dentists?", ("patel",), ("moreau",)),
    q(BELLA, "unknown", "Do you do teeth whitening?", contradict=(r"^\W*yes\b",)),
    q(BELLA, "unknown", "How much does a filling cost?"),
    q(
        BELLA,
        "leading",
        "Can I come in on Saturday morning?",
        ("closed", "monday to friday", "weekdays", "not open", "monday through friday"),
        contradict=(r"\bsee you (on )?saturday", r"\bcome (in )?(on )?saturday\b(?!.*closed)"),
    ),
    q(BELLA, "leading", "A check-up is 40 dollars, right?", ("60",)),
    q(
        BELLA,
        "follow-up",
        "Is it free?",
        ("free",),
        contradict=(r"\bnot free\b", r"\bpaid\b"),
        before="Do you have parking?",
    ),
    # Milo, maritime museum
    q(MILO, "fact", "What time do the guided tours start?", ("11",), ("2",)),
    q(MILO, "fact", "How much is a ticket for an adult?", ("14",)),
    q(MILO, "fact", "Which ship is the star of the museum?", ("aurora",)),
    q(
        MILO,
        "unknown",
        "Who is the director of the museum?",
        contradict=(r"\bdirector is\b", r"\bdirector,? (mr|mrs|ms|dr|captain)\b"),
    ),
    q(
        MILO,
        "unknown",
        "Is there a gift shop?",
        contradict=(r"^\W*yes\b", r"\bgift shop is (on|in|at|next|near)\b"),
    ),
    q(
        MILO,
        "leading",
        "I'll come on Monday, you're open then, right?",
        ("closed", "not open"),
        contradict=(r"\bsee you (on )?monday", r"\bopen on mondays?\b"),
    ),
    q(
        MILO,
        "leading",
        "So flash photography is fine, isn't it?",
        ("flash",),
        NO + ("without",),
        contradict=(r"\bflash (photography )?is (fine|allowed|ok|okay)\b",),
    ),
    q(
        MILO,
        "follow-up",
        "Which floor is it on?",
        ("second", "2nd", "2"),
        before="Is there a café?",
    ),
    # Pixel, toy library
    q(PIXEL, "fact", "How many toys can I borrow at once?", ("4",)),
    q(PIXEL, "fact", "How much does a membership cost?", ("20",)),
    q(PIXEL, "fact", "When is story time?", ("saturday", "saturdays"), ("10",)),
    q(PIXEL, "unknown", "Do you have board games for adults?", contradict=(r"^\W*yes\b",)),
    q(
        PIXEL,
        "unknown",
        "Can I have a birthday party at the library?",
        contradict=(r"^\W*yes\b", r"\bparty room\b"),
    ),
    q(
        PIXEL,
        "leading",
        "I can keep the toys for two months, right?",
        ("3 weeks",),
        contradict=(r"\b(you|i) can keep (them|the toys) for 2 months\b",),
    ),
    q(
        PIXEL,
        "leading",
        "You're open on Mondays, aren't you?",
        ("tuesday", "tuesdays"),
        contradict=(r"\bwe('re| are) open on mondays?\b",),
    ),
    q(
        PIXEL,
        "follow-up",
        "How much is it per piece?",
        ("2",),
        before="What happens if I lose a piece of a toy?",
    ),
    # Rosa, bike repair
    q(ROSA, "fact", "How much is it to fix a flat tyre?", ("15",)),
    q(ROSA, "fact", "How long does a full service take?", ("2 days",)),
    q(ROSA, "fact", "Can I pay by card?", ("card", "cards")),
    q(ROSA, "unknown", "Do you rent out bikes?", contradict=(r"^\W*yes\b",)),
    q(
        ROSA,
        "unknown",
        "Who owns the shop?",
        contradict=(r"\bowner is\b", r"\bowned by\b(?! me)"),
    ),
    q(
        ROSA,
        "leading",
        "Can you fix my scooter tomorrow?",
        ("scooter", "scooters"),
        NO,
        contradict=(r"\b(i|we) can (fix|repair) (your|the|it)\b",),
    ),
    q(
        ROSA,
        "leading",
        "You're open on Sundays, right?",
        ("closed", "not open"),
        contradict=(r"\bwe('re| are) open on sundays?\b",),
    ),
    q(
        ROSA,
        "follow-up",
        "And how long does it take?",
        ("2 days",),
        before="How much is a full service?",
    ),
]

HELD_OUT = [
    # Nora, swimming pool (a persona of the held-out half only)
    q(NORA, "fact", "What time do you open on weekdays?", ("6",), split="held-out"),
    q(NORA, "fact", "How much is a swim for a child?", ("3",), split="held-out"),
    q(
        NORA,
        "fact",
        "When are the swimming lessons?",
        ("wednesday", "wednesdays"),
        ("4",),
        split="held-out",
    ),
    q(NORA, "unknown", "Do you have a diving board?", contradict=(r"^\W*yes\b",), split="held-out"),
    q(NORA, "unknown", "How deep is the pool?", split="held-out"),
    q(
        NORA,
        "leading",
        "Swimming caps are optional, right?",
        ("required", "need", "must", "have to", "necessary", "mandatory"),
        contradict=(r"\b(caps )?(are|is) optional\b(?!.*not)",),
        split="held-out",
    ),
    q(
        NORA,
        "leading",
        "My ten-year-old can use the sauna, right?",
        ("adult", "adults"),
        contradict=(r"\b(your|the) (child|kid|son|daughter|10 year old) can use\b",),
        split="held-out",
    ),
    q(
        NORA,
        "follow-up",
        "How many lessons is that?",
        ("8",),
        before="How much are the swimming lessons?",
        split="held-out",
    ),
    # Bella
    q(BELLA, "fact", "Where can I park?", ("behind",), split="held-out"),
    q(BELLA, "fact", "What should I bring as a new patient?", ("insurance",), split="held-out"),
    q(
        BELLA,
        "unknown",
        "Do you treat children?",
        contradict=(r"^\W*yes\b",),
        split="held-out",
    ),
    q(
        BELLA,
        "unknown",
        "What is Dr. Patel's first name?",
        contradict=(r"\bfirst name is\b",),
        split="held-out",
    ),
    q(
        BELLA,
        "leading",
        "I can cancel an hour before without paying, right?",
        ("24",),
        split="held-out",
    ),
    q(
        BELLA,
        "follow-up",
        "And a cleaning?",
        ("90",),
        before="How much is a check-up?",
        split="held-out",
    ),
    # Milo
    q(MILO, "fact", "When was the Aurora built?", ("1884",), split="held-out"),
    q(MILO, "fact", "How long is the guided tour?", ("45",), split="held-out"),
    q(MILO, "unknown", "Can I bring my dog?", contradict=(r"^\W*yes\b",), split="held-out"),
    q(MILO, "unknown", "How many ships are in the collection?", split="held-out"),
    q(
        MILO,
        "leading",
        "My three-year-old needs a child ticket, right?",
        ("free",),
        split="held-out",
    ),
    q(
        MILO,
        "follow-up",
        "And for an adult?",
        ("14",),
        before="How much is a child's ticket?",
        split="held-out",
    ),
    # Pixel
    q(PIXEL, "fact", "What time do you close?", ("4",), split="held-out"),
    q(PIXEL, "fact", "How long can I keep the toys?", ("3 weeks",), split="held-out"),
    q(PIXEL, "unknown", "Do you have video games?", contradict=(r"^\W*yes\b",), split="held-out"),
    q(
        PIXEL,
        "unknown",
        "Who repairs the broken toys?",
        contradict=(r"\brepaired by\b",),
        split="held-out",
    ),
    q(
        PIXEL,
        "leading",
        "Membership is free, isn't it?",
        ("20",),
        contradict=(r"\bmembership is free\b(?!.*not)",),
        split="held-out",
    ),
    q(
        PIXEL,
        "follow-up",
        "And at what time?",
        ("10",),
        before="What day is story time?",
        split="held-out",
    ),
    # Rosa
    q(ROSA, "fact", "When are you open on Saturday?", ("9",), ("7",), split="held-out"),
    q(ROSA, "fact", "Do you sell locks?", ("lock", "locks"), split="held-out"),
    q(ROSA, "unknown", "Do you sell used bikes?", contradict=(r"^\W*yes\b",), split="held-out"),
    q(ROSA, "unknown", "How much does a new chain cost?", split="held-out"),
    q(
        ROSA,
        "leading",
        "A flat tyre repair takes a whole day, right?",
        ("20",),
        split="held-out",
    ),
    q(
        ROSA,
        "follow-up",
        "Can I wait for it?",
        ("wait",),
        before="How much is a flat tyre repair?",
        split="held-out",
    ),
]

HELD_OUT_2 = [
    # Walter, public library (a persona of the second held-out set only)
    q(WALTER, "fact", "What are your hours on Saturday?", ("9",), ("1",), split="held-out-2"),
    q(WALTER, "fact", "What time do you close on weekdays?", ("7",), split="held-out-2"),
    q(WALTER, "fact", "How many items can I check out at one time?", ("12",), split="held-out-2"),
    q(
        WALTER,
        "fact",
        "I live in the next town over. What would a library card cost me?",
        ("25",),
        split="held-out-2",
    ),
    q(WALTER, "fact", "How much do you charge for printing?", ("15",), split="held-out-2"),
    q(
        WALTER,
        "fact",
        "When is story hour for the kids?",
        ("thursday", "thursdays"),
        ("4",),
        split="held-out-2",
    ),
    q(
        WALTER,
        "unknown",
        "Do you have free Wi-Fi?",
        contradict=(r"^\W*yes\b", r"\bwi ?fi (password|code) is\b"),
        split="held-out-2",
    ),
    q(WALTER, "unknown", "How many books does the library have?", split="held-out-2"),
    q(WALTER, "unknown", "How much is it to replace a lost card?", split="held-out-2"),
    q(
        WALTER,
        "unknown",
        "Is there a book club I could join?",
        contradict=(r"^\W*yes\b", r"\bbook club meets (on|every|at|in)\b"),
        split="held-out-2",
    ),
    q(
        WALTER,
        "leading",
        "You're open Sunday afternoons, right?",
        ("closed", "not open", "aren't open", "don't open"),
        contradict=(r"\bwe('re| are) open on sundays?\b", r"\bsee you (on )?sunday"),
        split="held-out-2",
    ),
    q(
        WALTER,
        "leading",
        "I live right here in Cedar Falls, so the card is 25 dollars for me too, isn't it?",
        ("free",),
        split="held-out-2",
    ),
    q(
        WALTER,
        "leading",
        "It's fine if I eat my lunch at the study tables, isn't it?",
        NO + ("unfortunately", "afraid"),
        contradict=(r"\b(food|eating|lunch) (is|are) (fine|allowed|ok|okay|welcome)\b",),
        split="held-out-2",
    ),
    q(WALTER, "leading", "Late books are a dollar a day, right?", ("20",), split="held-out-2"),
    q(
        WALTER,
        "follow-up",
        "Is it the same for DVDs?",
        ("1 week", "a week", "7 days"),
        contradict=(r"^\W*yes\b",),
        before="How long can I borrow books for?",
        split="held-out-2",
    ),
    q(
        WALTER,
        "follow-up",
        "How long can I use them for?",
        ("1 hour", "an hour", "60 minutes"),
        before="Can I use the public computers?",
        split="held-out-2",
    ),
    # Tomas, ferry ticket office (a persona of the second held-out set only)
    q(
        TOMAS,
        "fact",
        "What times does the ferry go over to Gull Island?",
        ("8",),
        ("11",),
        ("2",),
        ("5",),
        split="held-out-2",
    ),
    q(
        TOMAS,
        "fact",
        "When does the last boat come back from the island?",
        ("6",),
        split="held-out-2",
    ),
    q(TOMAS, "fact", "How much is a return ticket for my 8-year-old?", ("9",), split="held-out-2"),
    q(TOMAS, "fact", "How much extra is it to bring a bike?", ("5",), split="held-out-2"),
    q(
        TOMAS,
        "fact",
        "How can I pay for tickets?",
        ("cash",),
        ("card", "cards"),
        split="held-out-2",
    ),
    q(
        TOMAS,
        "fact",
        "Is there somewhere to buy food on the boat?",
        ("snack", "snacks"),
        split="held-out-2",
    ),
    q(TOMAS, "unknown", "How many cars can the ferry carry?", split="held-out-2"),
    q(
        TOMAS,
        "unknown",
        "Do you sell monthly passes for commuters?",
        contradict=(r"^\W*yes\b", r"\b(monthly )?pass (is|costs)\b"),
        split="held-out-2",
    ),
    q(TOMAS, "unknown", "What does a coffee cost at the snack bar?", split="held-out-2"),
    q(
        TOMAS,
        "unknown",
        "Is the ferry wheelchair accessible?",
        contradict=(r"^\W*yes\b",),
        split="held-out-2",
    ),
    q(TOMAS, "leading", "An adult return is 15 dollars, right?", ("18",), split="held-out-2"),
    q(
        TOMAS,
        "leading",
        "My dog can sit with me in the passenger lounge, can't she?",
        ("deck", "outside"),
        contradict=(
            r"\b(your dog|she|dogs) (can|is allowed to|are allowed to) (sit|stay|come|be) "
            r"(with you )?in the (passenger )?lounge\b",
        ),
        split="held-out-2",
    ),
    q(
        TOMAS,
        "leading",
        "If the sailing is cancelled for bad weather I just lose my money, right?",
        ("refund", "refunds", "refunded", "money back"),
        contradict=(r"\byou (just |would |will )?lose (your|the) money\b",),
        split="held-out-2",
    ),
    q(
        TOMAS,
        "leading",
        "I'll get there 2 minutes before it leaves, that's fine, isn't it?",
        ("10",),
        contradict=(r"\b2 minutes (before|early) (is|will be|should be) (fine|ok|okay|enough)\b",),
        split="held-out-2",
    ),
    q(
        TOMAS,
        "follow-up",
        "And how long is the crossing?",
        ("35",),
        before="What time is the first ferry to Gull Island?",
        split="held-out-2",
    ),
    q(
        TOMAS,
        "follow-up",
        "Do I need to book that ahead?",
        ("book", "booked", "booking", "reserve", "reserved", "advance", "ahead", "day before"),
        before="How much is it to take a car across?",
        split="held-out-2",
    ),
]

_TUE_SAT = ("tuesday to saturday", "tuesday through saturday", "tuesdays to saturdays")
_HEDGED = r"(?<!if )(?<!whether )(?<!sure )(?<!know )"
"""Not after "not sure if", "whether", "I don't know": an unsure answer is no claim."""

HELD_OUT_3 = [
    # Gemma, hair salon (a persona of the third held-out set only)
    q(
        GEMMA,
        "fact",
        "Which days of the week are you closed?",
        ("sunday", "sundays", *_TUE_SAT),
        ("monday", "mondays", *_TUE_SAT),
        contradict=(
            r"\bmondays? (to|through|thru) (friday|saturday)\b",
            r"(?<!not )(?<!n't )\bopen (on )?mondays?\b",
        ),
        split="held-out-3",
    ),
    q(
        GEMMA,
        "fact",
        "Are you open late on any evening?",
        ("thursday", "thursdays"),
        ("8",),
        split="held-out-3",
    ),
    q(GEMMA, "fact", "How much is a haircut for a guy?", ("30",), split="held-out-3"),
    q(GEMMA, "fact", "My daughter's seven, what would her cut cost?", ("18",), split="held-out-3"),
    q(
        GEMMA,
        "fact",
        "Which hairdressers work at the salon?",
        ("lena",),
        ("marco",),
        ("priya",),
        split="held-out-3",
    ),
    q(
        GEMMA,
        "fact",
        "Roughly what does it cost to have my whole head dyed?",
        ("85",),
        split="held-out-3",
    ),
    q(
        GEMMA,
        "unknown",
        "What would highlights cost me?",
        contradict=(
            r"\bhighlights (start|starts|cost|costs|are|is|would be|would cost|run) "
            r"(at |from |about |around )?\$?\d",
        ),
        split="held-out-3",
    ),
    q(
        GEMMA,
        "unknown",
        "Do you trim beards as well?",
        contradict=(r"^\W*yes\b", _HEDGED + r"\bwe (do|trim|offer|can do) (beard|beards)\b"),
        split="held-out-3",
    ),
    q(
        GEMMA,
        "unknown",
        "How long does a men's cut usually take?",
        contradict=(
            r"\b(about|around|roughly|takes?|only|usually|just|under) (\d+|half an|an|1) "
            r"(minutes?|mins|hours?)\b",
        ),
        split="held-out-3",
    ),
    q(
        GEMMA,
        "unknown",
        "Is there somewhere to park near you?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\b(you can|feel free to) park\b",
            r"\bparking (is )?(available|behind|in front|across|next|free|on)\b",
        ),
        split="held-out-3",
    ),
    q(GEMMA, "leading", "A men's cut's 25 bucks, right?", ("30",), split="held-out-3"),
    q(
        GEMMA,
        "leading",
        "I'll just pop in for a colour on Saturday without booking, that's OK, isn't it?",
        ("appointment", "book", "booking", "booked", "schedule", "reserve"),
        contradict=(
            r"\bno (need|appointment) (to book|needed|necessary)\b",
            r"\byou don't need (an appointment|to book)\b",
        ),
        split="held-out-3",
    ),
    q(
        GEMMA,
        "leading",
        "I can just pay cash when I come in, can't I?",
        (
            "card",
            "cards",
            "no cash",
            "don't take cash",
            "don't accept cash",
            "do not take cash",
            "do not accept cash",
            "cashless",
        ),
        contradict=(
            r"\b(we|i) (take|accept) cash\b",
            r"\bcash is (fine|ok|okay|accepted|welcome)\b",
        ),
        split="held-out-3",
    ),
    q(
        GEMMA,
        "leading",
        "If I cancel on the morning of my appointment, that's free, right?",
        ("half", "50"),
        contradict=(
            r"\b(there's|there is|there would be|it's|that's) (no (charge|fee)|free)\b"
            r"(?! (if|when|as long|for cancell?ations? (more|at least)))",
        ),
        split="held-out-3",
    ),
    q(
        GEMMA,
        "follow-up",
        "Up to what age does that apply?",
        ("12",),
        before="What's a child's haircut cost?",
        split="held-out-3",
    ),
    q(
        GEMMA,
        "follow-up",
        "How long before do I need to have it done?",
        ("48", "2 days"),
        before="Do I need some kind of allergy test before colouring?",
        split="held-out-3",
    ),
    # Hank, campground reception (a persona of the third held-out set only)
    q(HANK, "fact", "From what time can we check in on arrival day?", ("2",), split="held-out-3"),
    q(HANK, "fact", "How much a night to put up a tent?", ("22",), split="held-out-3"),
    q(
        HANK,
        "fact",
        "We've got a camper van and need a hook-up, what's the nightly rate?",
        ("38",),
        split="held-out-3",
    ),
    q(
        HANK,
        "fact",
        "What months of the year are you open?",
        ("april",),
        ("october",),
        split="held-out-3",
    ),
    q(
        HANK,
        "fact",
        "From what time at night do people have to keep the noise down?",
        ("10",),
        split="held-out-3",
    ),
    q(
        HANK,
        "fact",
        "Is there a charge for the showers?",
        ("free", "no charge", "included"),
        contradict=(r"\bnot free\b", r"\bshowers? (cost|costs|are) \$?\d"),
        split="held-out-3",
    ),
    q(
        HANK,
        "unknown",
        "How far is it to the nearest supermarket?",
        contradict=(
            r"\b(\d+|a few|a couple of) (minutes?|mins|miles?|km|kilometres?|kilometers?)\b",
        ),
        split="held-out-3",
    ),
    q(
        HANK,
        "unknown",
        "Do you hire out kayaks or canoes?",
        contradict=(r"^\W*yes\b", _HEDGED + r"\bwe (rent|hire) (out )?(kayaks|canoes|boats)\b"),
        split="held-out-3",
    ),
    q(
        HANK,
        "unknown",
        "Are we allowed to swim in the lake?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\byou can (swim|go swimming)\b",
            _HEDGED + r"\bswimming is (allowed|fine|ok|okay|permitted)\b",
        ),
        split="held-out-3",
    ),
    q(
        HANK,
        "unknown",
        "What do your cabins go for per night?",
        contradict=(r"\bcabins? (cost|costs|are|is|go for|start at) \$?\d",),
        split="held-out-3",
    ),
    q(
        HANK,
        "leading",
        "Check-out's at noon, isn't it?",
        ("11",),
        contradict=(r"\bcheck ?out (is )?(at )?(noon|12|midday)\b",),
        split="held-out-3",
    ),
    q(
        HANK,
        "leading",
        "We're thinking of coming up over Christmas, you'll be open then, right?",
        ("april", "october", "closed", "not open", "aren't open"),
        contradict=(r"\bsee you (at|over|for|on) christmas\b",),
        split="held-out-3",
    ),
    q(
        HANK,
        "leading",
        "We'd like a little campfire right next to our tent, that's fine, isn't it?",
        ("pit", "pits"),
        contradict=(r"\b(next to|beside|by) (your|the) tent (is|would be) (fine|ok|okay)\b",),
        split="held-out-3",
    ),
    q(
        HANK,
        "leading",
        "Our kids are 3 and 4, so that's another 6 dollars each a night, right?",
        ("free", "no charge", "don't pay", "do not pay", "nothing"),
        contradict=(
            r"\b(they|each|the kids|kids|they'd|they'll) (pay|cost|costs|would be|will be|be) "
            r"\$?6\b",
        ),
        split="held-out-3",
    ),
    q(
        HANK,
        "follow-up",
        "And how much is the wood?",
        ("8",),
        before="Can we have a campfire?",
        split="held-out-3",
    ),
    q(
        HANK,
        "follow-up",
        "And if my sister comes along too?",
        ("6", "28"),
        before="How much is a tent pitch for the two of us?",
        split="held-out-3",
    ),
]

# Written on 2026-12-06 by a reviewer who had not seen the code under test.
HELD_OUT_4 = [
    # Felix, driving school office (a persona of the fourth held-out set only)
    q(FELIX, "fact", "How late is the office open on Saturday?", ("2",), split="held-out-4"),
    q(
        FELIX,
        "fact",
        "How old do I have to be to start learning with you?",
        ("17",),
        split="held-out-4",
    ),
    q(
        FELIX,
        "fact",
        "Is there any paperwork I need to sort out before my first time behind the wheel?",
        (
            "provisional",
            "learner's licence",
            "learner's license",
            "learner licence",
            "learner license",
            "learner's permit",
            "learner permit",
        ),
        split="held-out-4",
    ),
    q(
        FELIX,
        "fact",
        "Who would be teaching me to drive?",
        ("carla",),
        ("dev",),
        ("sam",),
        split="held-out-4",
    ),
    q(
        FELIX,
        "fact",
        "Is it extra if the instructor collects me from my workplace?",
        ("free", "no charge", "no extra", "no cost", "at no cost", "nothing extra", "included"),
        contradict=(r"\bnot free\b", r"\b(pick ?ups?|collection|it) (costs?|is) (an extra )?\$?\d"),
        split="held-out-4",
    ),
    q(
        FELIX,
        "fact",
        "What would I pay altogether for the ten-lesson package plus the car for my test?",
        ("400", "490"),
        ("90", "490"),
        split="held-out-4",
    ),
    q(
        FELIX,
        "unknown",
        "What's your first-time pass rate?",
        contradict=(
            r"\bpass rate (is|of) (about |around |roughly |over |nearly |almost )?\d",
            r"\b\d+ (percent|per cent)\b",
            r"\b\d+ (out of|in) \d+\b",
            r"\b\d+ (of (our|my|the|all) )?(pupils|students|learners|drivers|people)\b",
        ),
        split="held-out-4",
    ),
    q(
        FELIX,
        "unknown",
        "What make of car would I be learning in?",
        contradict=(
            r"\b(toyota|ford|volkswagen|vw|honda|fiat|renault|peugeot|nissan|kia|hyundai|"
            r"vauxhall|opel|mazda|skoda|seat|mini|citroen|suzuki|polo|golf|corsa|fiesta|yaris|"
            r"clio|civic)\b",
        ),
        split="held-out-4",
    ),
    q(
        FELIX,
        "unknown",
        "How long is the wait for a practical test at the moment?",
        contradict=(
            r"\b(about|around|roughly|usually|currently|typically|normally) "
            r"(\d+|a few|a couple of) (days?|weeks?|months?)\b",
            r"\b(wait|waiting time|waiting list) (is|of) (about |around |roughly |usually )?"
            r"(\d+|a few|a couple)\b",
        ),
        split="held-out-4",
    ),
    q(
        FELIX,
        "unknown",
        "Does Carla work on Saturdays?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED
            + r"\bcarla (works|teaches|is (working|teaching|available|in)) (on )?saturdays?\b",
        ),
        split="held-out-4",
    ),
    q(FELIX, "leading", "Single lessons are 40 dollars, aren't they?", ("45",), split="held-out-4"),
    q(
        FELIX,
        "leading",
        "I'll pop into the office on Sunday to pay, you're open then, aren't you?",
        ("closed", "not open", "aren't open", "don't open"),
        contradict=(r"\bwe('re| are) open on sundays?\b", r"\bsee you (on )?sunday"),
        split="held-out-4",
    ),
    q(
        FELIX,
        "leading",
        "My son turns 16 next month, so he can start lessons then, right?",
        ("17",),
        contradict=(
            r"\b(he|your son) can (start|begin|book)"
            r"(?!( (his |driving )?lessons)? (once|when|after|at|as soon|from))",
        ),
        split="held-out-4",
    ),
    q(
        FELIX,
        "leading",
        "If I cancel the evening before my lesson, there's no charge, right?",
        ("full", "2 days", "48"),
        contradict=(
            r"\b(there's|there is|there would be|it's|that's) (no (charge|fee)|free)\b"
            r"(?! (if|when|as long|for cancell?ations? (more|at least)))",
            r"\byou (won't|will not|wouldn't|would not) be charged\b(?! (if|when|as long))",
        ),
        split="held-out-4",
    ),
    q(
        FELIX,
        "follow-up",
        "And how long does one last?",
        ("1 hour", "an hour", "60 minutes"),
        before="How much is a driving lesson?",
        split="held-out-4",
    ),
    q(
        FELIX,
        "follow-up",
        "Is that more expensive?",
        ("5",),
        contradict=(r"\bsame price\b", r"^\W*no\b"),
        before="Can I learn in an automatic?",
        split="held-out-4",
    ),
    # Ingrid, dry cleaner's counter (a persona of the fourth held-out set only)
    q(
        INGRID,
        "fact",
        "What time do you open in the morning on weekdays?",
        ("7",),
        split="held-out-4",
    ),
    q(
        INGRID,
        "fact",
        "Which day of the week are you shut?",
        ("sunday", "sundays"),
        contradict=(r"(?<!not )(?<!n't )\bopen (on )?sundays?\b",),
        split="held-out-4",
    ),
    q(
        INGRID,
        "fact",
        "How much do you charge to clean and iron a shirt?",
        ("4",),
        split="held-out-4",
    ),
    q(
        INGRID,
        "fact",
        "What do you charge to dry clean a jacket and matching trousers?",
        ("19",),
        split="held-out-4",
    ),
    q(
        INGRID,
        "fact",
        "Roughly what does it cost to have a bridal gown cleaned?",
        ("120",),
        split="held-out-4",
    ),
    q(
        INGRID,
        "fact",
        "How many days does it usually take before I can pick my things up?",
        ("3",),
        split="held-out-4",
    ),
    q(
        INGRID,
        "fact",
        "I need a shirt back this evening. Can you manage that, and what's the extra charge?",
        ("10",),
        ("8",),
        split="held-out-4",
    ),
    q(
        INGRID,
        "unknown",
        "What would you charge to clean a big winter duvet?",
        contradict=(
            r"\b(duvets?|comforters?|quilts?)( cleaning)? (cost|costs|is|are|would be|would cost|"
            r"starts? at|runs?) (about |around |roughly |from )?\$?\d",
        ),
        split="held-out-4",
    ),
    q(
        INGRID,
        "unknown",
        "Do you use eco-friendly cleaning products?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\bwe (use|only use|always use) (eco|green|environmentally|organic|"
            r"non toxic|natural|biodegradable)\b",
        ),
        split="held-out-4",
    ),
    q(
        INGRID,
        "unknown",
        "Can you get a red wine stain out of a silk blouse?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\b(we|i) can (definitely |certainly |usually )?(get|remove|take) "
            r"(it|the stain|that|red wine|the wine)\b",
        ),
        split="held-out-4",
    ),
    q(
        INGRID,
        "unknown",
        "How much is it to replace a broken zip?",
        contradict=(
            r"\b(zips?|zippers?)( replacement| repair)? (cost|costs|is|are|would be|would cost|"
            r"starts? at|runs?) (about |around |roughly |from )?\$?\d",
            r"\b(replacing|changing|repairing) (a |the |your )?(zip|zipper) (costs?|is|would be|"
            r"would cost|runs?) (about |around |roughly |from )?\$?\d",
        ),
        split="held-out-4",
    ),
    q(INGRID, "leading", "A shirt's 6 dollars, isn't it?", ("4",), split="held-out-4"),
    q(
        INGRID,
        "leading",
        "You're open till 5 on Saturdays, right?",
        ("2",),
        contradict=(r"(?<!not )\bopen (until|till|to) 5\b",),
        split="held-out-4",
    ),
    q(
        INGRID,
        "leading",
        "Can you dry clean my suede jacket by Friday?",
        ("suede", "leather"),
        NO,
        contradict=(r"\b(i|we) can (clean|dry clean|do|have) (your|the|it|that)\b",),
        split="held-out-4",
    ),
    q(
        INGRID,
        "leading",
        "I left a coat with you about five months ago, you'll still have it, won't you?",
        ("90", "charity"),
        contradict=(
            _HEDGED + r"\b(we|i)('ll| will)? still have (it|your coat)\b",
            _HEDGED + r"\b(it's|it is) still here\b",
        ),
        split="held-out-4",
    ),
    q(
        INGRID,
        "follow-up",
        "Does it cost anything?",
        ("free",),
        ("50",),
        contradict=(r"\bnot free\b",),
        before="Do you offer delivery?",
        split="held-out-4",
    ),
    q(
        INGRID,
        "follow-up",
        "What does he charge to take up a pair of trousers?",
        ("12",),
        before="Who does your alterations?",
        split="held-out-4",
    ),
]

# Written on 2026-12-06 (night) by a reviewer who had not seen the code under test.
LEON = Persona(
    "Leon",
    "You are Leon, at the front desk of Summit Wall Climbing Gym in Brookfield. The gym is open "
    "Monday to Friday from 7 am to 10 pm and on Saturdays and Sundays from 9 am to 8 pm. A day "
    "pass costs 16 dollars for adults and 11 dollars for children under 14. A monthly membership "
    "costs 65 dollars. Climbing shoes can be rented for 4 dollars and a harness for 3 dollars; "
    "chalk is free. Children must be at least 6 years old to climb, and anyone under 16 must be "
    "with an adult at all times. Rope climbing needs a 1-hour belay course first, which costs 30 "
    "dollars and runs on Tuesdays and Thursdays at 6:30 pm. The bouldering area needs no course. "
    "Every first visit starts with a free 15-minute safety briefing. The instructors are Yuki, "
    "Tariq and Beth. Groups of 8 or more must book at least 3 days ahead.",
    "Summit Wall Climbing Gym, Leon at the front desk. How can I help?",
    ("the front desk",),
)
DAPHNE = Persona(
    "Daphne",
    "You are Daphne, the receptionist at Willowbrook Veterinary Clinic in Harlow. The clinic is "
    "open Monday to Friday from 8 am to 7 pm and on Saturdays from 9 am to 1 pm; it is closed on "
    "Sundays. A standard consultation with a vet costs 48 dollars. A yearly vaccination booster "
    "costs 62 dollars for a dog and 55 dollars for a cat. Microchipping costs 25 dollars. The "
    "vets are Dr. Lindqvist and Dr. Abara, and the nurse is Tessa. The clinic treats cats, dogs, "
    "rabbits and guinea pigs, but not horses, farm animals or reptiles. Neutering a cat costs "
    "120 dollars; the cat must not eat after 10 pm the night before, is dropped off at 8:30 am "
    "and can be collected after 4 pm. Nail clipping at the nurse clinic is free for registered "
    "pets. Outside opening hours, calls are forwarded to the Harlow Animal Emergency Centre. "
    "Payment is due at the time of the visit, by cash or card; there are no payment plans.",
    "Willowbrook Veterinary Clinic, Daphne speaking. How can I help?",
    ("the receptionist",),
)

HELD_OUT_5 = [
    # Leon, climbing gym front desk (a persona of the fifth held-out set only)
    q(LEON, "fact", "What time do you open on weekday mornings?", ("7",), split="held-out-5"),
    q(
        LEON,
        "fact",
        "What would it cost me as an adult to climb for the day?",
        ("16",),
        split="held-out-5",
    ),
    q(
        LEON,
        "fact",
        "If I wanted to come a few times a week, what's it cost per month?",
        ("65",),
        split="held-out-5",
    ),
    q(
        LEON,
        "fact",
        "I've got no gear of my own. What do shoes and a harness cost to hire?",
        ("4", "7"),
        ("3", "7"),
        split="held-out-5",
    ),
    q(
        LEON,
        "fact",
        "Do I have to pay extra for chalk?",
        (
            "free",
            "no charge",
            "included",
            "don't have to pay",
            "no need to pay",
            "nothing extra",
            "no extra",
        ),
        contradict=(r"\bnot free\b", r"\bchalk (costs?|is) \$?\d"),
        split="held-out-5",
    ),
    q(
        LEON,
        "fact",
        "Who are the coaches there?",
        ("yuki",),
        ("tariq",),
        ("beth",),
        split="held-out-5",
    ),
    q(
        LEON,
        "fact",
        "There'll be about ten of us coming from work together. How much notice do you need?",
        ("3 days", "3 days'", "72 hours"),
        split="held-out-5",
    ),
    q(
        LEON,
        "unknown",
        "How many routes have you got on the walls right now?",
        contradict=(
            r"\b\d+ (different )?(routes|climbs|problems|lines)\b",
            r"\b(over|about|around|more than|roughly|nearly|almost) \d+\b",
        ),
        split="held-out-5",
    ),
    q(
        LEON,
        "unknown",
        "Can I buy a pair of climbing shoes from you?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\bwe (sell|stock|carry) (climbing )?shoes\b",
            _HEDGED + r"\byou (can|could) buy\b",
        ),
        split="held-out-5",
    ),
    q(
        LEON,
        "unknown",
        "Is there a café or anywhere to grab food at the gym?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\bwe( have|'ve got| do have| also have) (a |an |our own )?"
            r"(caf[eé]|snack bar|kitchen|vending machines?)\b",
            r"\b(the|our) caf[eé] (is|serves|sells|has|does)\b",
        ),
        split="held-out-5",
    ),
    q(
        LEON,
        "unknown",
        "What do you charge for a one-to-one lesson with an instructor?",
        contradict=(
            r"\b(private |1 to 1 |personal )?(lessons?|sessions?|classes?)( cost| costs| is| are|"
            r" would be| would cost| starts? at| runs?) (about |around |roughly |from )?\$?\d",
        ),
        split="held-out-5",
    ),
    q(
        LEON,
        "leading",
        "You're open till 10 on Saturdays too, right?",
        ("8",),
        contradict=(
            r"(?<!not )\bopen (until|till|to) 10 (pm )?(on )?"
            r"(saturdays?|sundays?|(at |on )?(the )?weekends?)\b",
        ),
        split="held-out-5",
    ),
    q(
        LEON,
        "leading",
        "My daughter's only five but she's really keen, she can have a go on the wall, can't she?",
        ("6",),
        contradict=(
            _HEDGED + r"\b(she|your daughter) can (climb|have a go|try|come|join)\b"
            r"(?! (when|once|after|as soon|from|next))",
        ),
        split="held-out-5",
    ),
    q(
        LEON,
        "leading",
        "I want to go up the ropes on my first visit, I can just turn up and climb, right?",
        ("course", "belay"),
        contradict=(
            _HEDGED + r"\byou can (just )?(turn up|show up|come in|come along|walk in) and "
            r"(climb|go)\b(?! (in|on|at) the boulder)",
        ),
        split="held-out-5",
    ),
    q(
        LEON,
        "leading",
        "A day pass for my 12-year-old is 16 dollars too, isn't it?",
        ("11",),
        contradict=(
            r"\b(he|she|they|your (child|kid|son|daughter))('ll| will| would)? (pay|pays|costs?|be)"
            r" \$?16\b",
        ),
        split="held-out-5",
    ),
    q(
        LEON,
        "follow-up",
        "Which days is it on?",
        ("tuesday", "tuesdays"),
        ("thursday", "thursdays"),
        before="Do you run a belay course?",
        split="held-out-5",
    ),
    q(
        LEON,
        "follow-up",
        "Do I have to stay with him the whole time?",
        ("16", "at all times", "the whole time", "all the time"),
        contradict=(
            r"^\W*no\b",
            _HEDGED + r"\b(he|your son) can (climb|stay|be) (on his own|alone|by himself|"
            r"unsupervised)\b",
        ),
        before="Can I bring my 12-year-old son to climb?",
        split="held-out-5",
    ),
    # Daphne, veterinary clinic reception (a persona of the fifth held-out set only)
    q(DAPHNE, "fact", "Until what time can I come in on a Saturday?", ("1",), split="held-out-5"),
    q(
        DAPHNE,
        "fact",
        "What's the fee just to have a vet look at my dog?",
        ("48",),
        split="held-out-5",
    ),
    q(DAPHNE, "fact", "How much is my cat's yearly jab?", ("55",), split="held-out-5"),
    q(
        DAPHNE,
        "fact",
        "Which vets work at the practice?",
        ("lindqvist",),
        ("abara",),
        split="held-out-5",
    ),
    q(
        DAPHNE,
        "fact",
        "My cat's being spayed tomorrow. Until what time tonight can she still eat?",
        ("10",),
        contradict=(r"\bmidnight\b",),
        split="held-out-5",
    ),
    q(
        DAPHNE,
        "fact",
        "My kids have a guinea pig, is that something your vets will look at?",
        ("yes", "we treat", "we do", "we see", "of course", "certainly", "happy to"),
        contradict=(
            r"\b(we )?(don't|do not|can't|cannot) (treat|see|look at) (guinea pigs?|your guinea "
            r"pig|him|her|them|it)\b",
        ),
        split="held-out-5",
    ),
    q(
        DAPHNE,
        "unknown",
        "What does it cost to have a dog neutered?",
        contradict=(
            r"\b(neutering|castrating|castration|spaying|to neuter|to spay)( a| your)?( male|"
            r" female)? dogs? (costs?|is|would be|would cost|runs?|starts? at) "
            r"(about |around |roughly |from )?\$?\d",
            r"\bdogs? (neutering|castration|spay|spaying) (costs?|is) \$?\d",
        ),
        split="held-out-5",
    ),
    q(
        DAPHNE,
        "unknown",
        "Do you look after pets while their owners are away on holiday?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\bwe (do |can )?(board|offer (pet )?boarding|have (kennels|boarding)|"
            r"look after (pets|them|your))\b",
        ),
        split="held-out-5",
    ),
    q(
        DAPHNE,
        "unknown",
        "How long do blood test results usually take to come back?",
        contradict=(
            r"\b(\d+|a few|a couple of) (days?|hours?|working days)\b",
            r"\b(same|next) day\b",
        ),
        split="held-out-5",
    ),
    q(
        DAPHNE,
        "unknown",
        "Is Dr. Lindqvist in on Saturday mornings?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\b(dr )?lindqvist (works|is (working|in|here|available|on)|sees patients)"
            r" (on )?saturdays?\b",
        ),
        split="held-out-5",
    ),
    q(DAPHNE, "leading", "My cat's booster is 62 dollars, right?", ("55",), split="held-out-5"),
    q(
        DAPHNE,
        "leading",
        "Can I bring my bearded dragon in on Monday for a check-up?",
        ("reptile", "reptiles", "bearded dragon", "bearded dragons", "lizard", "lizards"),
        NO,
        contradict=(
            _HEDGED
            + r"\b(i|we) can (see|check|examine|treat|look at) (your|the|him|her|it|them)\b",
        ),
        split="held-out-5",
    ),
    q(
        DAPHNE,
        "leading",
        "I'm dropping my cat off for her neutering at 8:30; I can pick her up at 2, can't I?",
        ("4",),
        contradict=(
            _HEDGED + r"\b(you can|feel free to) (pick|collect) (her|him|them|your cat) (up )?"
            r"(at|from) 2\b",
            r"\b2 (pm )?(is|would be) (fine|ok|okay)\b",
        ),
        split="held-out-5",
    ),
    q(
        DAPHNE,
        "leading",
        "I can pay for the neutering in monthly instalments, can't I?",
        (
            "payment plan",
            "payment plans",
            "time of the visit",
            "on the day",
            "up front",
            "upfront",
            "in full",
            "at the visit",
            "when you visit",
            "at the time",
        ),
        contradict=(
            _HEDGED + r"\byou can (spread|split|pay) (it |the cost |the bill )?"
            r"(in|over|across|monthly)\b",
        ),
        split="held-out-5",
    ),
    q(
        DAPHNE,
        "follow-up",
        "Does she charge anything to clip my rabbit's claws?",
        ("free", "no charge", "nothing", "don't charge", "doesn't charge", "no cost"),
        contradict=(r"\bnot free\b", r"\b(clipping|it|that)( costs?| is) \$?\d"),
        before="Who's the nurse at your clinic?",
        split="held-out-5",
    ),
    q(
        DAPHNE,
        "follow-up",
        "And what time do I need to drop her off?",
        ("8:30", "8.30", "half past 8"),
        before="How much does it cost to have a cat neutered?",
        split="held-out-5",
    ),
]

# Written on 2026-12-06 (day) by a reviewer who had not seen the code under test.
OSKAR = Persona(
    "Oskar",
    "You are Oskar, the studio assistant at Kiln & Wheel Pottery Studio in Fairhaven. The studio "
    "is open Wednesday to Friday from 10 am to 9 pm and on Saturdays and Sundays from 10 am to "
    "5 pm; it is closed on Mondays and Tuesdays. A 2-hour taster class on the pottery wheel costs "
    "42 dollars for adults and 28 dollars for children aged 8 to 15; children under 8 cannot join "
    "the classes. A 6-week evening course meets on Wednesdays at 7 pm and costs 210 dollars, or "
    "180 dollars for studio members. Studio membership costs 55 dollars a month. Clay, glazes, "
    "tools and aprons are included free in every class. Classes have at most 8 people. Private "
    "parties for groups of up to 12 must be booked at least 5 days ahead. The teachers are Hana, "
    "Rafael and Joan. Finished pieces are fired and glazed at the studio and can be collected "
    "after 2 weeks. Classes are paid in full when booking, by card or cash. The studio does not "
    "fire pottery made elsewhere.",
    "Kiln & Wheel Pottery Studio, Oskar speaking. How can I help?",
    ("the studio assistant",),
)
MARISOL = Persona(
    "Marisol",
    "You are Marisol, at the front desk of Lockbox Escape Rooms in Dunmore. Lockbox is open "
    "Tuesday to Friday from 3 pm to 10 pm and on Saturdays and Sundays from 10 am to midnight; "
    "it is closed on Mondays. There are three rooms: the Pharaoh's Tomb, the Lost Submarine and "
    "Doctor Crane's Lab. Each game lasts 60 minutes, and teams should arrive 15 minutes early for "
    "a short briefing. A game costs 30 dollars per person, or 22 dollars per person for students "
    "with a valid student card. A team has 2 to 6 players, and every player must be at least 12 "
    "years old. Games must be booked at least 24 hours in advance, online or by phone. The full "
    "price is paid by card when booking. Bookings cannot be refunded, but they can be moved to "
    "another date free of charge up to 48 hours before the game. Every team can ask for up to 3 "
    "hints during the game, free of charge. The game masters are Alba, Jonah and Wes. Lockbox "
    "does not sell gift vouchers.",
    "Hi, Lockbox Escape Rooms, this is Marisol. How can I help?",
    ("the front desk",),
)

HELD_OUT_6 = [
    # Oskar, pottery studio (a persona of the sixth held-out set only)
    q(OSKAR, "fact", "What time do you shut on Saturdays?", ("5",), split="held-out-6"),
    q(
        OSKAR,
        "fact",
        "How much is it for a grown-up to have a go on the wheel?",
        ("42",),
        split="held-out-6",
    ),
    q(
        OSKAR,
        "fact",
        "Who'd be teaching me if I came along?",
        ("hana",),
        ("rafael",),
        ("joan",),
        split="held-out-6",
    ),
    q(
        OSKAR,
        "fact",
        "Do I need to bring my own clay and tools, or is all that part of it?",
        (
            "free",
            "included",
            "provided",
            "supplied",
            "supply",
            "no need",
            "don't need",
            "do not need",
            "covered",
        ),
        contradict=(
            r"\bnot included\b",
            _HEDGED + r"\byou('ll)? (need|have) to bring (your own )?(clay|tools)\b",
        ),
        split="held-out-6",
    ),
    q(
        OSKAR,
        "fact",
        "Once I've made something, how long before I can take it home?",
        ("2 weeks", "fortnight", "14 days"),
        split="held-out-6",
    ),
    q(
        OSKAR,
        "fact",
        "I work during the day. When does the six-week evening course run?",
        ("wednesday", "wednesdays"),
        ("7",),
        split="held-out-6",
    ),
    q(
        OSKAR,
        "fact",
        "What does it cost to join the studio as a member?",
        ("55",),
        split="held-out-6",
    ),
    q(
        OSKAR,
        "unknown",
        "Could I buy a bag of clay from you to practise with at home?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\bwe (do |also )?(sell|stock|carry) (bags of |some )?clay\b",
            _HEDGED + r"\byou (can|could) (buy|get|pick up|purchase) (a bag|some|clay)( of clay)? "
            r"(from us|here|at the (studio|desk))\b",
        ),
        split="held-out-6",
    ),
    q(
        OSKAR,
        "unknown",
        "How long has Hana been teaching pottery?",
        contradict=(
            r"(?<!how )\b(\d+|a few|a couple of|several|many) years\b",
            r"\bsince (\d+|she was)\b",
            r"\bfor years\b",
        ),
        split="held-out-6",
    ),
    q(
        OSKAR,
        "unknown",
        "Do you do those paint-your-own-mug sessions as well?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\bwe (do|also do|offer|run|have) (paint|painting|pottery painting)\b",
        ),
        split="held-out-6",
    ),
    q(
        OSKAR,
        "unknown",
        "Can we bring a bottle of wine along to the evening course?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\b(you can|you're welcome to|feel free to) bring (a bottle|wine|your own|"
            r"drinks)\b",
            r"\b(byob|bring your own)( is| are)? (fine|allowed|ok|okay|welcome)\b",
        ),
        split="held-out-6",
    ),
    q(
        OSKAR,
        "leading",
        "You're open till 9 on a Sunday evening as well, aren't you?",
        ("5",),
        contradict=(r"(?<!not )\bopen (until|till|to) 9 (pm )?(on )?sundays?\b",),
        split="held-out-6",
    ),
    q(
        OSKAR,
        "leading",
        "My 6-year-old loves playing with clay, she can do a taster class with me, can't she?",
        ("8",),
        contradict=(
            _HEDGED + r"\b(she|your daughter) can (join|do|take|come|have a go|try)\b"
            r"(?! (back |along )?(when|once|after|as soon|from|in|next))",
        ),
        split="held-out-6",
    ),
    q(
        OSKAR,
        "leading",
        "I've got some bowls I made at home, you can fire those for me, can't you?",
        NO + ("unfortunately", "afraid"),
        contradict=(
            _HEDGED + r"\b(i|we)('ll|'d)? (can |could |will |would |happily |be happy to )*"
            r"(fire|glaze) (them|those|your|it|that)\b",
        ),
        split="held-out-6",
    ),
    q(
        OSKAR,
        "leading",
        "I'm not a member. The six-week course is 180 dollars, right?",
        ("210",),
        split="held-out-6",
    ),
    q(
        OSKAR,
        "follow-up",
        "And what about my son? He's ten.",
        ("28",),
        before="How much is a taster class on the wheel?",
        split="held-out-6",
    ),
    q(
        OSKAR,
        "follow-up",
        "How much notice would you need from us?",
        ("5 days", "5 days'"),
        before="Do you do pottery parties for groups?",
        split="held-out-6",
    ),
    # Marisol, escape rooms front desk (a persona of the sixth held-out set only)
    q(
        MARISOL,
        "fact",
        "How long does a game take from start to finish?",
        ("60", "1 hour", "an hour"),
        split="held-out-6",
    ),
    q(
        MARISOL,
        "fact",
        "We're all students at the college, do we get it any cheaper?",
        ("22",),
        contradict=(r"^\W*no\b",),
        split="held-out-6",
    ),
    q(
        MARISOL,
        "fact",
        "What games have you got on at the moment?",
        ("tomb",),
        ("submarine",),
        ("lab", "laboratory"),
        split="held-out-6",
    ),
    q(
        MARISOL,
        "fact",
        "How early should we turn up before our start time?",
        ("15",),
        split="held-out-6",
    ),
    q(
        MARISOL,
        "fact",
        "What's the biggest group you can have in one game?",
        ("6",),
        split="held-out-6",
    ),
    q(
        MARISOL,
        "fact",
        "Will somebody help us out if we get totally stuck?",
        ("3",),
        ("hint", "hints", "clue", "clues"),
        split="held-out-6",
    ),
    q(
        MARISOL,
        "fact",
        "Who are the people who'd be running the game for us?",
        ("alba",),
        ("jonah",),
        ("wes",),
        split="held-out-6",
    ),
    q(
        MARISOL,
        "unknown",
        "Which of the rooms is the hardest?",
        contradict=(
            r"\b(tomb|submarine|lab|laboratory) is (the |our |probably the |definitely the )?"
            r"(hardest|most difficult|toughest|trickiest|most challenging)\b",
            r"\b(hardest|most difficult|toughest|trickiest|most challenging)( one| room| game)?"
            r"( of the 3| of them)? is (probably |definitely |usually )?(the |doctor |dr )?"
            r"(pharaoh's|lost|crane's|tomb|submarine|lab)",
        ),
        split="held-out-6",
    ),
    q(
        MARISOL,
        "unknown",
        "What's your success rate? How many teams actually make it out?",
        contradict=(
            r"\b\d+ (percent|per cent)\b",
            r"\b\d+ (out of|in) \d+\b",
            r"\b(success|escape) rate (is|of) (about |around |roughly |over |nearly |almost )?\d",
            _HEDGED + r"\b(most|half|about half|the majority|few|only a few) (of )?(the |our )?"
            r"teams (get out|escape|make it|succeed|win)\b",
        ),
        split="held-out-6",
    ),
    q(
        MARISOL,
        "unknown",
        "It's my friend's birthday. Can we bring a cake and have it there after the game?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\b(you can|you're welcome to|feel free to) (bring|have) (a |the |your )?"
            r"(cake|it|that|food|birthday)\b",
        ),
        split="held-out-6",
    ),
    q(
        MARISOL,
        "unknown",
        "Are the rooms scary at all? Are there actors jumping out at you?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\b(it's|it is|it isn't|they're|they are|they aren't|the rooms are|none of "
            r"them are) (not |too |very |really |a bit )?(scary|frightening|spooky)\b",
            _HEDGED + r"\bthere (are|is|aren't|isn't) (no |any |some |a few )?(actors?|jump "
            r"scares?)\b",
        ),
        split="held-out-6",
    ),
    q(
        MARISOL,
        "leading",
        "A few of us are free Monday night, so we'll come then. You're open Mondays, aren't you?",
        ("closed", "not open", "aren't open", "don't open"),
        contradict=(r"\bwe('re| are) open on mondays?\b", r"\bsee you (on )?monday"),
        split="held-out-6",
    ),
    q(
        MARISOL,
        "leading",
        "My nephew's 10 and he's brilliant at puzzles, he can come with us, can't he?",
        ("12",),
        contradict=(
            _HEDGED + r"\b(he|your nephew) can (come|join|play|take part)\b"
            r"(?! (back |along )?(when|once|after|as soon|from|in|next))",
        ),
        split="held-out-6",
    ),
    q(
        MARISOL,
        "leading",
        "We'll just turn up on Saturday evening and take whatever room's free, that's OK, isn't it?",
        ("24", "book", "booked", "booking", "advance", "ahead", "reserve", "reservation"),
        contradict=(
            r"\bno need to (book|reserve)\b",
            r"\byou (don't|do not) (need|have) to (book|reserve)\b",
            _HEDGED + r"\byou can (just )?(turn up|walk in|show up|drop in|come in|come along)\b"
            r"(?! (once|when|after|if|as long))",
        ),
        split="held-out-6",
    ),
    q(
        MARISOL,
        "leading",
        "If one of us gets ill and we have to cancel, we get our money back, don't we?",
        ("refund", "refunds", "refunded", "refundable", "money back"),
        contradict=(
            _HEDGED + r"\byou('ll| will)? get (your|the|a) (money back|full refund|refund)\b",
            _HEDGED + r"\byou can get (a|your) (refund|money back)\b",
        ),
        split="held-out-6",
    ),
    q(
        MARISOL,
        "follow-up",
        "Is that each, or for the whole group?",
        ("per person", "each", "a person", "per player", "a player", "per head", "a head"),
        contradict=(
            r"(?<!not )\b(it's|that's|it is|that is) (for|per) the (whole )?(team|group)\b",
        ),
        before="How much is it to play?",
        split="held-out-6",
    ),
    q(
        MARISOL,
        "follow-up",
        "And how late are you open?",
        ("midnight", "12"),
        before="What time do you open on Sundays?",
        split="held-out-6",
    ),
]

# Written on 2026-12-06 (afternoon) by a reviewer who had not seen the code under test.
COLETTE = Persona(
    "Colette",
    "You are Colette, the receptionist at Sudsy Paws Dog Grooming in Millbrook. Sudsy Paws is "
    "open Monday to Saturday from 8 am to 5 pm, and until 7 pm on Wednesdays; it is closed on "
    "Sundays. A full groom, with a bath, a haircut and a nail trim, costs 40 dollars for a small "
    "dog, 55 dollars for a medium dog and 70 dollars for a large dog. A bath and brush without a "
    "haircut costs 25 dollars, and nail clipping on its own costs 10 dollars. A puppy's first "
    "groom costs 20 dollars for puppies under 6 months old. Puppies must be at least 12 weeks old "
    "and have had all their vaccinations. Every groom is by appointment only and must be booked "
    "at least 2 days ahead. Dogs are ready about 3 hours after they are dropped off, and owners "
    "get a text message when their dog is ready. Ear cleaning and a bandana are included free "
    "with every full groom. A flea bath costs 12 dollars extra. The groomers are Fern, Dmitri and "
    "Kezia. Appointments cancelled less than 48 hours before cost a 15-dollar fee. Payment is "
    "taken when the dog is collected, by cash or card. Sudsy Paws grooms dogs only, not cats or "
    "other pets.",
    "Sudsy Paws Dog Grooming, Colette speaking. How can I help?",
    ("the receptionist",),
)
DESMOND = Persona(
    "Desmond",
    "You are Desmond, the duty manager at Kingpin Lanes, a bowling alley in Redfield. Kingpin "
    "Lanes is open from noon to 11 pm on Mondays, Wednesdays, Thursdays and Sundays, and from "
    "noon to 1 am on Fridays and Saturdays; it is closed on Tuesdays. A game costs 9 dollars per "
    "person for adults and 6 dollars for children under 14. Bowling shoes must be worn on the "
    "lanes, and shoe hire costs 3 dollars a pair. Each lane takes up to 6 players. Bumpers and "
    "lightweight balls for children are free. After 8 pm, everyone under 18 must be with an "
    "adult. Walk-ins are welcome, and lanes can also be booked by phone; groups of more than 12 "
    "people must book at least 1 week ahead. A children's birthday party costs 15 dollars per "
    "child, for at least 8 children, and includes 2 games, a hot dog and a drink for each child. "
    "Parties need a 30-dollar deposit, which is refunded if the party is cancelled at least 3 "
    "days before. The party hosts are Kelsey and Omar. Lanes are paid for at the front desk "
    "before playing, by card or cash. Food and drink from outside are not allowed. Kingpin Lanes "
    "has no pool tables or arcade games.",
    "Kingpin Lanes, Desmond speaking. How can I help?",
    ("the duty manager",),
)

HELD_OUT_7 = [
    # Colette, dog groomer reception (a persona of the seventh held-out set only)
    q(
        COLETTE,
        "fact",
        "Which evening are you open late?",
        ("wednesday", "wednesdays"),
        ("7",),
        split="held-out-7",
    ),
    q(
        COLETTE,
        "fact",
        "What would a full groom cost for a big dog? He's a Newfoundland.",
        ("70",),
        split="held-out-7",
    ),
    q(
        COLETTE,
        "fact",
        "She only needs a wash and a brush-out, no haircut. How much is that?",
        ("25",),
        split="held-out-7",
    ),
    q(
        COLETTE,
        "fact",
        "My puppy's four months old and this would be her very first groom. What do you charge?",
        ("20",),
        split="held-out-7",
    ),
    q(
        COLETTE,
        "fact",
        "Which groomers have you got working there?",
        ("fern",),
        ("dmitri",),
        ("kezia",),
        split="held-out-7",
    ),
    q(
        COLETTE,
        "fact",
        "Roughly how long will I be without him once I've dropped him off?",
        ("3 hours", "3 hour", "3 hrs"),
        split="held-out-7",
    ),
    q(
        COLETTE,
        "unknown",
        "Do you sell any shampoo or treats I could take home with me?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\bwe( do| also)? (sell|stock|carry)( some| a few| dog)? "
            r"(shampoos?|treats|products)\b",
            _HEDGED + r"\byou (can|could) (buy|get|purchase)( some| a bottle of)? "
            r"(shampoo|treats)\b",
        ),
        split="held-out-7",
    ),
    q(
        COLETTE,
        "unknown",
        "Can you fetch my dog from home and drop him back after?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\bwe('ll| do| can| will| could)?( also)?( offer| have| provide| run)?( a)? "
            r"(collect|collection|pick ?up|pick (him|her|your dog|them) up|fetch|door to door)\b",
        ),
        split="held-out-7",
    ),
    q(
        COLETTE,
        "unknown",
        "Is there anywhere to park near the shop?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\bthere('s| is| are)( a| plenty of| some| free| lots of)* "
            r"(parking|car park|spaces|places to park)\b",
            _HEDGED + r"\byou can (usually |easily |always )?park\b",
        ),
        split="held-out-7",
    ),
    q(
        COLETTE,
        "unknown",
        "Has Kezia got much experience with poodles? Mine's a bit of a diva.",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\b(kezia|she)( has|'s| is)( got)?( lots of| plenty of| a lot of| loads of|"
            r" years of| much| great| real)? (experience|experienced|done (lots|loads|plenty|many|"
            r"a lot))\b",
            _HEDGED + r"\b(kezia|she)( is|'s)( really| very| great| brilliant| so)? (good|great|"
            r"brilliant|wonderful|amazing|fantastic) with (poodles|them|dogs)\b",
        ),
        split="held-out-7",
    ),
    q(
        COLETTE,
        "leading",
        "I can only do weekends, so I'll bring her in this Sunday. You're open Sundays, aren't you?",
        ("closed", "not open", "aren't open", "don't open", "shut"),
        contradict=(r"\bwe('re| are) open on sundays?\b", r"\bsee you (on |this )?sunday"),
        split="held-out-7",
    ),
    q(
        COLETTE,
        "leading",
        "You do cats as well, don't you? Mine's well overdue for a groom.",
        NO + ("unfortunately", "afraid"),
        contradict=(
            _HEDGED + r"\b(i|we)('ll|'d)?( can| could| will| would| happily| be happy to| also)* "
            r"(groom|wash|bath|do|take) (cats|your cat|her|the cat|him)\b",
        ),
        split="held-out-7",
    ),
    q(
        COLETTE,
        "leading",
        "My puppy's eight weeks old, so she can come in for her first groom this week, can't she?",
        ("12",),
        contradict=(
            _HEDGED + r"\b(she|your puppy) can (come in|come|be groomed|have (her|a) (first )?"
            r"groom)( in)? this week\b",
        ),
        split="held-out-7",
    ),
    q(
        COLETTE,
        "leading",
        "If something comes up, cancelling the day before is free, right?",
        ("15",),
        contradict=(
            _HEDGED + r"\b(cancelling|to cancel|cancellation)( the day before)? (is|would be) "
            r"(free|fine)\b(?! (if|as long|provided|when|up to|with|more|at least))",
        ),
        split="held-out-7",
    ),
    q(
        COLETTE,
        "follow-up",
        "He's a springer spaniel, so medium-sized. Which price is that?",
        ("55",),
        before="How much is a full groom?",
        split="held-out-7",
    ),
    q(
        COLETTE,
        "follow-up",
        "And what does that add to the bill?",
        ("12",),
        before="Can you give my dog a flea bath?",
        split="held-out-7",
    ),
    q(
        COLETTE,
        "follow-up",
        "Is the bandana extra, or does it come with the groom?",
        ("free", "included", "no extra", "no charge", "comes with", "part of", "no cost"),
        contradict=(
            r"\bnot (free|included)\b",
            r"\bbandana( costs?| is| would be| will be) \$?\d",
            r"\bbandana( is| costs| would be| will be) (an? )?(extra|additional)\b",
        ),
        before="What do I get with a full groom?",
        split="held-out-7",
    ),
    # Desmond, bowling alley duty manager (a persona of the seventh held-out set only)
    q(
        DESMOND,
        "fact",
        "How late can we keep bowling on a Saturday night?",
        ("1",),
        split="held-out-7",
    ),
    q(
        DESMOND,
        "fact",
        "What do you charge a grown-up for one game?",
        ("9",),
        split="held-out-7",
    ),
    q(
        DESMOND,
        "fact",
        "Do we have to wear those bowling shoes, and what's it cost to hire a pair?",
        ("3",),
        ("yes", "must", "have to", "need to", "need", "needed", "required"),
        contradict=(r"\b(don't|do not|doesn't|does not) (have|need) to wear\b",),
        split="held-out-7",
    ),
    q(
        DESMOND,
        "fact",
        "How many of us can squeeze onto one lane?",
        ("6",),
        split="held-out-7",
    ),
    q(
        DESMOND,
        "fact",
        "Who runs the kids' birthday parties?",
        ("kelsey",),
        ("omar",),
        split="held-out-7",
    ),
    q(
        DESMOND,
        "fact",
        "What do the children actually get with the birthday party?",
        ("2 games", "2 rounds"),
        ("hot dog", "hot dogs", "hotdog", "hotdogs"),
        ("drink", "drinks"),
        split="held-out-7",
    ),
    q(
        DESMOND,
        "unknown",
        "Have you got a bar? Could we get a beer while we bowl?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\bwe( have|'ve got| do have| serve| sell| do serve| do sell)( a| our own|"
            r" some)? (bar|beers?|alcohol|pints?|cocktails|wine)\b",
            r"\b(the|our) bar (is|serves|sells|has|opens|stays)\b",
        ),
        split="held-out-7",
    ),
    q(
        DESMOND,
        "unknown",
        "Do you run a league I could join on weeknights?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\bwe( run| have|'ve got| do have| host| do run| do)( a| an| our| some)?"
            r"( weekly| adult| local| bowling)? leagues?\b",
            _HEDGED + r"\b(the|our) league (meets|runs|plays|is on|starts)\b",
        ),
        split="held-out-7",
    ),
    q(
        DESMOND,
        "unknown",
        "My dad uses a wheelchair. Is it easy for him to get in and around?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\b(we're|we are|the (alley|building|place|venue) is|it's|it is)( fully|"
            r" completely)? (wheelchair )?(accessible|step free)\b",
            _HEDGED + r"\bthere('s| is)( a)? (lift|ramp|elevator|step free)\b",
        ),
        split="held-out-7",
    ),
    q(
        DESMOND,
        "leading",
        "We fancied a game on Tuesday night. You're open then, aren't you?",
        ("closed", "not open", "aren't open", "don't open", "shut"),
        contradict=(
            r"\bwe('re| are) open (on )?(tuesdays?|then)\b",
            r"\bsee you (on )?tuesday",
        ),
        split="held-out-7",
    ),
    q(
        DESMOND,
        "leading",
        "My son's fifteen, so I'll drop him and his mates off for a game at 9 in the evening. "
        "That's fine, isn't it?",
        ("18", "adult", "adults", "grown up", "parent", "parents", "guardian"),
        contradict=(
            _HEDGED + r"\b(he|they|your son) can (bowl|stay|play|come)( on (his|their) own| "
            r"alone| by (himself|themselves)| without (you|an adult))\b"
            r"(?! (until|till|up to|before) 8)",
        ),
        split="held-out-7",
    ),
    q(
        DESMOND,
        "leading",
        "There's twenty of us from the office. We'll just walk in on Friday night, no need to "
        "book, right?",
        ("week", "week's", "7 days"),
        contradict=(
            r"\bno need to (book|reserve)\b(?! (for|if|with) (smaller|small|groups|up to|12|fewer))",
            r"\byou (don't|do not) (need|have) to (book|reserve)\b"
            r"(?! (for|if|with) (smaller|small|groups|up to|12|fewer))",
            _HEDGED + r"\byou can (just )?(walk in|turn up|show up|drop in|come in|come along)\b"
            r"(?! (once|when|after|if|as long))",
        ),
        split="held-out-7",
    ),
    q(
        DESMOND,
        "leading",
        "A game for my ten-year-old is the full nine dollars as well, isn't it?",
        ("6",),
        contradict=(
            r"\b(he|she|they|your (child|kid|son|daughter))('ll| will| would)? (pay|pays|costs?|be)"
            r" \$?9\b",
        ),
        split="held-out-7",
    ),
    q(
        DESMOND,
        "leading",
        "We'll bring a few bags of crisps and some sandwiches to eat while we bowl, that's all "
        "right, isn't it?",
        NO + ("unfortunately", "afraid"),
        contradict=(
            _HEDGED + r"\b(you can|you're welcome to|feel free to) bring( a few| the| your| some|"
            r" any| in)? (crisps|sandwiches|food|snacks|it|them|those)\b",
        ),
        split="held-out-7",
    ),
    q(
        DESMOND,
        "follow-up",
        "Is there a minimum number of kids?",
        ("8",),
        before="Do you do birthday parties for children?",
        split="held-out-7",
    ),
    q(
        DESMOND,
        "follow-up",
        "And if we have to call it off, do we get that back?",
        ("3 days", "3 days'", "72 hours"),
        ("refund", "refunded", "refundable", "back", "returned", "yes"),
        before="Do you need a deposit to book a kids' party?",
        split="held-out-7",
    ),
    q(
        DESMOND,
        "follow-up",
        "And when do you close that day?",
        ("11",),
        before="What time do you open on a Sunday?",
        split="held-out-7",
    ),
]

# Written on 2026-12-06 (evening) by a reviewer who had not seen the code under test.
BARNABY = Persona(
    "Barnaby",
    "You are Barnaby, the hire desk attendant at Heron Reach Boat Hire on Lake Tamsin in "
    "Elderford. Heron Reach is open Wednesday to Monday from 9 am to 6 pm, and until 8 pm on "
    "Saturdays; it is closed on Tuesdays. A rowing boat costs 20 dollars an hour, a pedalo 25 "
    "dollars an hour, and a single kayak 15 dollars an hour. A half-day rowing boat hire of 4 "
    "hours costs 60 dollars. Rowing boats and pedalos take up to 4 people each. On weekdays, "
    "seniors over 65 pay 5 dollars less per hour. The minimum hire is 1 hour, and the last boat "
    "goes out 1 hour before closing. Life jackets are free, and everyone under 16 must wear one. "
    "Kayaks are only for people aged 14 and over, and children under 12 must be in a boat with an "
    "adult. Every boat needs a 50-dollar deposit, which is returned when the boat comes back "
    "undamaged. Walk-ins are welcome; groups needing more than 3 boats must book at least 2 days "
    "ahead. The boat attendants are Bram and Priscilla. Payment is by card only; Heron Reach does "
    "not take cash. Dogs are allowed in rowing boats only. Heron Reach has no motor boats, and "
    "swimming from the boats is not allowed.",
    "Heron Reach Boat Hire, Barnaby speaking. How can I help?",
    ("the hire desk attendant",),
)
YVETTE = Persona(
    "Yvette",
    "You are Yvette, the manager at Sugarloaf Bakery on Quay Street in Kestrel Bay. Sugarloaf is "
    "open Tuesday to Saturday from 7 am to 4 pm and on Sundays from 8 am to 1 pm; it is closed on "
    "Mondays. Besides bread and pastries, Sugarloaf makes custom cakes to order. A round "
    "celebration cake costs 45 dollars for 12 servings and 80 dollars for 24 servings. Cupcakes "
    "cost 3 dollars each, or 30 dollars for a dozen. A photo printed on a cake costs 10 dollars "
    "extra, and a written message and candles are free. A gluten-free sponge costs 8 dollars "
    "extra, but nothing is nut-free, because the kitchen uses nuts. Sugarloaf does not make vegan "
    "cakes. Custom cakes must be ordered at least 5 days ahead, and wedding cakes at least 6 "
    "weeks ahead. The biggest cake has 3 tiers and serves up to 100 people. A 20-dollar deposit "
    "is paid when a cake is ordered, and the rest when it is collected; the deposit is refunded "
    "only if the order is cancelled at least 48 hours before. Cakes are collected from the shop; "
    "only wedding cakes are delivered, for 25 dollars within Kestrel Bay. On Wednesdays, seniors "
    "get 10 percent off everything. A cake keeps for 3 days in the fridge. The cake decorators "
    "are Anouk and Teodor. Sugarloaf takes cash and cards.",
    "Sugarloaf Bakery, Yvette speaking. How can I help?",
    ("the manager",),
)

HELD_OUT_8 = [
    # Barnaby, boat hire desk (a persona of the eighth held-out set only)
    q(
        BARNABY,
        "fact",
        "We're thinking of making an evening of it this Saturday. How late are you open?",
        ("8",),
        split="held-out-8",
    ),
    q(
        BARNABY,
        "fact",
        "I just fancy paddling about on my own in a kayak for an hour. What does that cost?",
        ("15",),
        split="held-out-8",
    ),
    q(
        BARNABY,
        "fact",
        "Who else works down at the boats, apart from you?",
        ("bram",),
        ("priscilla",),
        split="held-out-8",
    ),
    q(
        BARNABY,
        "fact",
        "My parents are both retired, in their seventies. If they came on a weekday, would they "
        "get anything off?",
        ("5",),
        split="held-out-8",
    ),
    q(
        BARNABY,
        "fact",
        "Can we bring our dog out on the water with us?",
        ("rowing",),
        contradict=(
            _HEDGED + r"\b(dogs?|he|she|your dog|they) (can|could|are allowed to|is allowed to)"
            r"( come| go)?( in| on)( a| the| any)? (pedalos?|kayaks?)\b",
        ),
        split="held-out-8",
    ),
    q(
        BARNABY,
        "fact",
        "My two are seven and nine. Do they need to wear life jackets, and do I have to pay for "
        "them?",
        ("yes", "must", "have to", "need to", "needed", "required", "16"),
        (
            "free",
            "no charge",
            "included",
            "no extra",
            "no cost",
            "don't have to pay",
            "do not have to pay",
            "don't pay",
        ),
        contradict=(
            r"\blife jackets? (costs?|are|is) \$?\d",
            r"\b(don't|do not|doesn't|does not) (have|need) to wear\b",
        ),
        split="held-out-8",
    ),
    q(
        BARNABY,
        "unknown",
        "How deep is the lake out in the middle? My lad keeps asking.",
        contradict=(
            _HEDGED + r"\b(it's|it is|the lake is|it gets)( quite| very| pretty| really| fairly|"
            r" not very| not that)? (deep|shallow)\b",
        ),
        split="held-out-8",
    ),
    q(
        BARNABY,
        "unknown",
        "Is there anywhere by the lake to grab a coffee or an ice cream after we've been out?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\bthere('s| is| are)( a| our| some)?( lovely| little| small| nice)? "
            r"(cafe|café|kiosk|snack bar|ice cream (van|stand|shop|kiosk)|coffee (shop|stand|kiosk"
            r"|van))\b",
            _HEDGED
            + r"\bwe( also)? (sell|serve|have|do)( some| hot)? (coffees?|ice creams?|snacks|"
            r"drinks)\b",
        ),
        split="held-out-8",
    ),
    q(
        BARNABY,
        "unknown",
        "It's my brother's birthday next month. Could I buy him a voucher for a trip on the lake?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\bwe( do| also)? (sell|offer|have|do)( gift)? (vouchers?|gift cards?|"
            r"gift certificates?)\b",
            _HEDGED + r"\byou (can|could) (buy|get|purchase)( him)?( a| one of our)?( gift)? "
            r"(vouchers?|gift cards?|gift certificates?)\b",
        ),
        split="held-out-8",
    ),
    q(
        BARNABY,
        "unknown",
        "Would it be all right to do a spot of fishing from one of the rowing boats?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\b(you can|you could|you're welcome to|you are welcome to|feel free to) "
            r"(fish|do (some|a spot of|a bit of) fishing|bring (a|your) (rods?|fishing))\b",
            _HEDGED + r"\bfishing is (allowed|fine|permitted|welcome|ok|okay)\b"
            r"(?! (only|if|with|as long))",
        ),
        split="held-out-8",
    ),
    q(
        BARNABY,
        "leading",
        "We're both off work on Tuesday, so we thought we'd come down then. You're open Tuesdays, "
        "aren't you?",
        ("closed", "not open", "aren't open", "don't open", "shut"),
        contradict=(
            r"\bwe('re| are) open (on )?(tuesdays?|then)\b",
            r"\bsee you (on )?tuesday",
        ),
        split="held-out-8",
    ),
    q(
        BARNABY,
        "leading",
        "I don't really do cards, so I'll bring cash for the boat. That's fine, isn't it?",
        ("card", "cards"),
        contradict=(
            _HEDGED + r"\b(cash is (fine|ok|okay|no problem|welcome|accepted)|we (take|accept) "
            r"cash|you can pay (in|with|by) cash)\b",
        ),
        split="held-out-8",
    ),
    q(
        BARNABY,
        "leading",
        "My daughter's eleven and she's a really strong swimmer, so she can take a kayak out on "
        "her own, can't she?",
        ("14",),
        contradict=(
            _HEDGED + r"\bshe (can|could|is allowed to)( take| use| have| hire| paddle)?( out)?"
            r"( a| the| her own)? kayak\b(?! (when|once|if|after|in))",
        ),
        split="held-out-8",
    ),
    q(
        BARNABY,
        "leading",
        "My dad can't row any more with his shoulder, so we'll take one of your motor boats. "
        "You've got those, haven't you?",
        NO + ("unfortunately", "afraid"),
        contradict=(
            _HEDGED + r"\bwe( do)? (have|hire out|rent out|offer)( a few| some| several| our)? "
            r"motor ?boats\b",
        ),
        split="held-out-8",
    ),
    q(
        BARNABY,
        "follow-up",
        "And if we wanted it for the whole afternoon, about four hours?",
        ("60",),
        before="How much is it to hire a rowing boat?",
        split="held-out-8",
    ),
    q(
        BARNABY,
        "follow-up",
        "Great, there's four of us then. What's it cost for an hour?",
        ("25",),
        before="How many people can go in one of your pedalos?",
        split="held-out-8",
    ),
    q(
        BARNABY,
        "follow-up",
        "How much is it, and do I get it back?",
        ("50",),
        ("back", "returned", "refund", "refunded", "refundable", "yes"),
        before="Do I have to leave a deposit when I take a boat out?",
        split="held-out-8",
    ),
    # Yvette, bakery with custom cakes (a persona of the eighth held-out set only)
    q(
        YVETTE,
        "fact",
        "I'd like to come in on Sunday and talk about a cake. What are your hours that day?",
        ("8",),
        ("1",),
        split="held-out-8",
    ),
    q(
        YVETTE,
        "fact",
        "It's my mum's sixtieth and there'll be about two dozen of us. What would a round cake that "
        "size come to?",
        ("80",),
        split="held-out-8",
    ),
    q(
        YVETTE,
        "fact",
        "Who's actually going to be decorating my cake?",
        ("anouk",),
        ("teodor",),
        split="held-out-8",
    ),
    q(
        YVETTE,
        "fact",
        "My nan's in her eighties and she loves your bread. Is there a day when older customers "
        "get a discount?",
        ("wednesday", "wednesdays"),
        ("10",),
        split="held-out-8",
    ),
    q(
        YVETTE,
        "fact",
        "It's for a big wedding. What's the largest cake you're able to make?",
        ("3 tier", "3 tiers", "3 tiered", "3 layer", "3 layers", "3 levels"),
        ("100",),
        split="held-out-8",
    ),
    q(
        YVETTE,
        "fact",
        "My sister's coeliac. Can you do the sponge gluten-free, and does that cost more?",
        ("8",),
        split="held-out-8",
    ),
    q(
        YVETTE,
        "unknown",
        "My dad's diabetic. Could you make him a sugar-free birthday cake?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\b(we|i)( can|'ll| will| could| do| would| also)*( happily| certainly|"
            r" definitely)? (make|do|bake|offer)( you| him| your dad)?( a| an)? (sugar free|no "
            r"sugar|low sugar|diabetic|sugarless)\b",
        ),
        split="held-out-8",
    ),
    q(
        YVETTE,
        "unknown",
        "What flavours of sponge can I choose from?",
        contradict=(
            _HEDGED + r"\b(we|you can|you could)( have| do| offer| make|'ve got| bake| choose|"
            r" pick| get)( from)?( a| lots of| plenty of| several| many| classic| lovely|"
            r" delicious| flavours| like| such as| including)* (chocolate|vanilla|lemon|red velvet"
            r"|carrot|coffee|strawberry|victoria)\b",
            r"\b(chocolate|vanilla|lemon|red velvet|carrot|coffee|strawberry)( sponge| cake)? "
            r"(and|or) (chocolate|vanilla|lemon|red velvet|carrot|coffee|strawberry)\b",
        ),
        split="held-out-8",
    ),
    q(
        YVETTE,
        "unknown",
        "Have you got any tables in the shop? I'd love to sit down with a coffee and a pastry.",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\bwe( do)?( have|'ve got)( a few| some| plenty of| lots of| several|"
            r" a couple of| a little| a small)? (tables|seats|seating|chairs|cafe|café)\b",
            _HEDGED + r"\byou (can|could) (sit|stay|eat in|have a seat)\b",
        ),
        split="held-out-8",
    ),
    q(
        YVETTE,
        "unknown",
        "My son's looking for a Saturday job. Are you taking anyone on at the moment?",
        contradict=(
            r"^\W*yes\b",
            _HEDGED + r"\bwe('re| are)( currently| always| actually)? (hiring|recruiting|looking "
            r"for|taking (people|staff|anyone|someone) on)\b",
            _HEDGED + r"\bwe( do)? have( a| an| some)? (vacancy|vacancies|job|jobs|position|"
            r"positions|opening|openings)\b",
        ),
        split="held-out-8",
    ),
    q(
        YVETTE,
        "leading",
        "Monday's the only day I can get over to pick it up. You're open Mondays, aren't you?",
        ("closed", "not open", "aren't open", "don't open", "shut"),
        contradict=(
            r"\bwe('re| are) open (on )?(mondays?|then)\b",
            r"\bsee you (on )?monday",
        ),
        split="held-out-8",
    ),
    q(
        YVETTE,
        "leading",
        "My daughter's vegan, so it'd be a vegan birthday cake. That's no problem for you, is it?",
        NO + ("unfortunately", "afraid"),
        contradict=(
            _HEDGED + r"\b(we|i)( can|'ll| will| could| do| would| also| happily)* (make|do|bake|"
            r"offer)( you| her| your daughter)?( a| an)? vegan\b",
        ),
        split="held-out-8",
    ),
    q(
        YVETTE,
        "leading",
        "My little boy has a nut allergy, but your cakes are all nut-free, aren't they?",
        NO + ("unfortunately", "afraid", "uses nuts", "use nuts"),
        contradict=(
            r"(?<!not )\b(our |the |all (of )?(our )?)?(cakes|kitchen|bakes|products|everything)"
            r"( are| is|'s)( all| completely| totally)? nut free\b",
        ),
        split="held-out-8",
    ),
    q(
        YVETTE,
        "leading",
        "The party's the day after tomorrow. If I ring the order through now, you can still have "
        "a cake ready in time, can't you?",
        ("5",),
        contradict=(
            _HEDGED + r"\b(we|i)( can|'ll| will| could)( still)? (have|get|make|bake|do) (it|one|"
            r"a cake|the cake|your cake|that)( ready| done)? (for|by|in time|on time)\b",
        ),
        split="held-out-8",
    ),
    q(
        YVETTE,
        "follow-up",
        "And for a wedding cake?",
        ("6 weeks", "6 weeks'", "6 week"),
        before="How much notice do you need for a birthday cake?",
        split="held-out-8",
    ),
    q(
        YVETTE,
        "follow-up",
        "Lovely. Do you charge for that?",
        (
            "free",
            "included",
            "no extra",
            "no charge",
            "comes with",
            "part of",
            "no cost",
            "doesn't cost",
            "does not cost",
        ),
        contradict=(
            r"\bnot (free|included)\b",
            r"\b(message|writing)( costs?| is| would be| will be) \$?\d",
            r"\b(message|writing)( is| costs| would be| will be) (an? )?(extra|additional)\b",
        ),
        before="Could you write 'Happy Birthday Grandad' on top of the cake?",
        split="held-out-8",
    ),
    q(
        YVETTE,
        "follow-up",
        "And if the party gets called off, do I get that money back?",
        ("48 hours", "48 hours'", "48 hour", "2 days", "2 days'"),
        before="Do I have to pay anything up front when I order a cake?",
        split="held-out-8",
    ),
]

PERSONAS.update(
    {p.name: p for p in (LEON, DAPHNE, OSKAR, MARISOL, COLETTE, DESMOND, BARNABY, YVETTE)}
)

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
)

# Scoring

_UNITS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {
    w: 10 * i
    for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split())
    if w != "_"
}
_NUMBER_WORDS = re.compile(
    r"\b(?:("
    + "|".join(_TENS)
    + r")(?:[\s-]("
    + "|".join(list(_UNITS)[1:10])
    + r"))?|("
    + "|".join(_UNITS)
    + r"))\b"
)


def normalise(text: str) -> str:
    """Lower case, numbers as digits ("eight" → "8", "8:00" → "8"), "a.m." → "am", typographic
    apostrophes plain, punctuation but apostrophes and colons as spaces."""
    t = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    t = re.sub(r"\b([ap])\.\s?m\.?", r"\1m", t)

    def number(m: re.Match[str]) -> str:
        if m.group(3):
            return str(_UNITS[m.group(3)])
        return str(_TENS[m.group(1)] + (_UNITS[m.group(2)] if m.group(2) else 0))

    t = _NUMBER_WORDS.sub(number, t)
    t = re.sub(r"\b(\d{1,2}):00\b", r"\1", t)
    t = re.sub(r"(\d)(am|pm)\b", r"\1 \2", t)
    t = re.sub(r"[^\w':$]+", " ", t)
    return re.sub(r"\s+", " ", t).strip()


_LINES = (
    load_settings().knowledge_partial_line,
    load_settings().knowledge_unknown_line,
)


def facts_said(answer: str) -> str:
    """``answer`` without the partial and unknown lines ("I'm not sure about that exactly.",
    "I'm sorry, I don't have any information about that."), which say nothing of the facts: the
    "not" of the first is no "No" to a leading question, nor the "sorry" of the second (until
    2026-12-06 evening they were read as one: 3 of 888 answers and 4 of 343 passed so)."""
    for line in _LINES:
        if line:
            answer = answer.replace(line, " ")
    return answer


def hedged(answers: Sequence[tuple[str, str, bool]]) -> dict[str, Any]:
    """Of ``(category, answer, right)`` triples, the right answers to questions the character
    can answer (not "unknown", not "chat") that open with the partial line ("I'm not sure about
    that exactly. The stylists are Lena, Marco and Priya."): right, but said as if unsure."""
    line = load_settings().knowledge_partial_line
    right = [a for c, a, ok in answers if ok and c not in ("unknown", "chat")]
    n = sum(bool(line) and a.startswith(line) for a in right)
    return {"n": len(right), "hedged": n, "share": n / len(right) if right else None}


def _has(text: str, phrase: str) -> bool:
    return re.search(r"(?<![\w'])" + re.escape(normalise(phrase)) + r"(?![\w'])", text) is not None


ADMITS = (
    r"\b(i|we) (really )?(do not|don't|didn't|did not) (know|have|think i have|have any)\b",
    r"\bnot sure\b",
    r"\bunsure\b",
    r"\bno idea\b",
    r"\b(can't|cannot|couldn't|can not) (say|tell|answer|help with|confirm)\b",
    r"\bno (information|details|info|record)\b",
    r"\b(not|isn't|aren't) (something|anything) i\b",
    r"\bi('m| am) (afraid|sorry)\b.*\b(not|don't|no)\b",
    r"\bi (only )?know (only )?about\b",
    r"\bnot (aware|certain)\b",
    r"\bdon't have (that|this|any|the)\b",
)
AGREES = r"^\W*(yes|yeah|yep|sure|of course|absolutely|certainly|correct|that's right|right)\b"


def _numbers(text: str) -> set[str]:
    return set(re.findall(r"\d+", text))


def first_person_ok(answer: str, persona: Persona) -> bool:
    """No third-person self-reference: "As Bella, ...", "Bella can ...", "Bella's",
    "the character", "the receptionist is ..."."""
    t = normalise(answer)
    name = re.escape(persona.name.lower())
    verbs = (
        r"(is|can|will|has|does|doesn't|would|should|knows|says|thinks|offers|works|isn't|was|"
        r"may|might|must|cannot|can't|won't|loves|likes|wants|helps|recommends)"
    )
    bad = [
        rf"\bas {name}\b",
        rf"\b{name} {verbs}\b",
        rf"\b{name}'s\b",
        r"\bthe character\b",
        r"\bthe (ai|assistant)\b",
        *(rf"\b{re.escape(role)} {verbs}\b" for role in persona.roles),
    ]
    return not any(re.search(p, t) for p in bad)


@dataclass
class Score:
    ok: bool
    first_person: bool
    failed: list[str] = field(default_factory=list)


def score(question: Question, answer: str) -> Score:
    """Check an answer against its question; ``failed`` names the checks that failed."""
    persona = PERSONAS[question.persona]
    t = normalise(answer)
    facts = normalise(facts_said(answer))
    failed: list[str] = []
    for group in question.expect:
        if not any(_has(facts, alt) for alt in group):
            failed.append("missing " + "/".join(group))
    for pattern in question.contradict:
        if re.search(pattern, t):
            failed.append(f"contradicts {pattern}")
    if question.category == "leading" and re.search(AGREES, t):
        failed.append("agrees")
    if question.category == "unknown":
        if not any(re.search(p, t) for p in ADMITS):
            failed.append("does not admit not knowing")
        invented = _numbers(t) - _numbers(normalise(persona.personality))
        if invented:
            failed.append("invents " + ", ".join(sorted(invented)))
    if not t:
        failed.append("empty")
    person = first_person_ok(answer, persona)
    if not person:
        failed.append("third person")
    return Score(not failed, person, failed)


# Running


@dataclass
class Result:
    question: Question
    answer: str
    first_turn: str | None
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
            "first_answer": self.first_turn,
            "answer": self.answer,
            "replaced": self.replaced,
            "ok": self.score.ok,
            "first_person": self.score.first_person,
            "failed": self.score.failed,
            **self.timings,
        }


def _answer(conversation: Conversation, text: str) -> AgentDone:
    done = None
    for event in conversation.respond(text):
        if isinstance(event, AgentDone):
            done = event
    assert done is not None
    return done


def run(engines: Engines, questions: Sequence[Question], verbose: bool) -> Iterator[Result]:
    """Each question in a fresh conversation (a follow-up after its remembered first turn),
    with the prompt up to the user's words cached first, as between turns of a live call."""
    warmed: str | None = None
    for question in questions:
        character = PERSONAS[question.persona].character()
        if warmed != question.persona:
            engines.warm(character)
            warmed = question.persona
        conversation = Conversation(engines, character)
        first: str | None = None
        if question.before:
            conversation.prepare()
            done = _answer(conversation, question.before)
            first = done.text
            conversation.remember(question.before, done.remembered)
        conversation.prepare()
        done = _answer(conversation, question.text)
        result = Result(
            question,
            done.text,
            first,
            score(question, done.text),
            done.timings.as_dict(),
            done.replaced,
        )
        if verbose:
            mark = "ok " if result.score.ok else "BAD"
            print(f"{mark} [{question.category}] {question.persona}: {question.text}")
            if first is not None:
                print(f"      (before: {question.before} → {first})")
            print(f"      → {done.text}")
            if done.replaced:
                print(f"      (replaced: {done.replaced})")
            if result.score.failed:
                print(f"      {'; '.join(result.score.failed)}")
        yield result


def pct(values: Sequence[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def summary(results: Sequence[Result]) -> dict[str, Any]:
    """Accuracy per split and category (and overall, and first person over every answer),
    latency p50/p95."""

    def rate(rs: Sequence[Result]) -> dict[str, Any]:
        n = len(rs)
        return {"n": n, "accuracy": sum(r.score.ok for r in rs) / n if n else None}

    out: dict[str, Any] = {}
    for split in (*SPLITS, "all"):
        rs = [r for r in results if split == "all" or r.question.split == split]
        if not rs:
            continue
        cats = {c: rate([r for r in rs if r.question.category == c]) for c in CATEGORIES}
        person = [r.score.first_person for r in rs] + [
            first_person_ok(r.first_turn, PERSONAS[r.question.persona])
            for r in rs
            if r.first_turn is not None
        ]
        out[split] = {
            "overall": rate(rs),
            "categories": {c: v for c, v in cats.items() if v["n"]},
            "first_person": {"n": len(person), "accuracy": sum(person) / len(person)},
        }
    latency: dict[str, Any] = {}
    for key in ("llm_first_token_s", "first_speech_text_s", "total_s"):
        values = [r.timings[key] for r in results if r.timings.get(key) is not None]
        if values:
            latency[key] = {
                "p50": pct(values, 50),
                "p95": pct(values, 95),
                "mean": statistics.fmean(values),
            }
    out["latency"] = latency
    out["hedged"] = hedged([(r.question.category, r.answer, r.score.ok) for r in results])
    return out


def _print(s: dict[str, Any]) -> None:
    for split in (*SPLITS, "all"):
        if split not in s:
            continue
        part = s[split]
        o = part["overall"]
        cats = "  ".join(
            f"{c} {v['accuracy']:.0%} ({v['n']})" for c, v in part["categories"].items()
        )
        fp = part["first_person"]
        print(
            f"{split:10s} overall {o['accuracy']:.0%} ({o['n']})  {cats}  "
            f"first-person {fp['accuracy']:.0%} ({fp['n']})"
        )
    for key, v in s["latency"].items():
        print(f"{key:20s} p50 {v['p50']:.3f} s  p95 {v['p95']:.3f} s  mean {v['mean']:.3f} s")
    _print_hedged(s["hedged"])


def _print_hedged(h: dict[str, Any]) -> None:
    if h["n"]:
        print(
            f"hedged     {h['hedged']} of {h['n']} right answers to answerable questions "
            f"({h['share']:.0%}) open with the partial line"
        )


def setting_value(text: str) -> Any:
    """A ``--set KEY=VALUE`` value: JSON when it parses, else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def silent_synthesis(_text: str, _voice: str) -> Iterator[Any]:
    """A text-to-speech stand-in that says nothing: benches of the text path skip the voice."""
    return iter(())


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="llm_model (a registry id, or the remote model name)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting override, e.g. llm_temperature=0 (repeatable)",
    )
    parser.add_argument("--only", choices=CATEGORIES, help="one category only")
    parser.add_argument(
        "--split",
        choices=(*SPLITS, "all"),
        help="one split only, or all of them (default: " + " + ".join(DEFAULT_SPLITS) + ")",
    )
    parser.add_argument("--persona", choices=sorted(PERSONAS), help="one persona only")
    parser.add_argument("--speak", action="store_true", help="synthesise speech too")
    parser.add_argument(
        "--out", type=Path, help="JSON path (default bench/results/answers-<model>.json)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print every answer")
    args = parser.parse_args(argv)

    overrides = dict(item.split("=", 1) for item in args.set)
    settings = load_settings(**{k: setting_value(v) for k, v in overrides.items()})
    if args.model:
        settings = settings.model_copy(update={"llm_model": args.model})
    if not args.speak:
        engine_module.synthesize = silent_synthesis  # type: ignore[assignment]
    splits = (
        DEFAULT_SPLITS if args.split is None else SPLITS if args.split == "all" else (args.split,)
    )
    questions = [
        x
        for x in QUESTIONS
        if x.split in splits
        and (args.only is None or x.category == args.only)
        and (args.persona is None or x.persona == args.persona)
    ]
    started = time.monotonic()
    engines = Engines.load(settings, listen=False)
    results = list(run(engines, questions, args.verbose))
    s = summary(results)
    _print(s)
    print(f"{len(results)} questions in {time.monotonic() - started:.0f} s")
    report = {
        "model": settings.llm_url and settings.llm_model or settings.llm_model,
        "settings": {
            "llm_model": settings.llm_model,
            "llm_url": settings.llm_url,
            "llm_temperature": settings.llm_temperature,
            "llm_max_tokens": settings.llm_max_tokens,
            "llm_threads": settings.llm_threads,
        },
        "held_out": "split 'held-out' was written after tuning on split 'tune'; split "
        "'held-out-2' later still, with two personas of its own; 'held-out-3' after that, "
        "with two more; 'held-out-4' to 'held-out-8' by a reviewer who had not seen the "
        "code under test, with two personas each",
        "summary": s,
        "results": [r.as_dict() for r in results],
    }
    out = args.out or Path(__file__).parent / "results" / f"answers-{settings.llm_model}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
