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
never tuned on.

    python bench/answers.py                                   # all questions, default model
    python bench/answers.py --model qwen2.5-coder-1.5b-instruct --split held-out
    python bench/answers.py --only leading --set llm_temperature=0 -v

Prints accuracy per category and split, the latency of the language model (first token, first
speakable text: p50/p95, after the prompt prefix was cached as a live call does between turns)
and writes ``bench/results/answers-<model>.json``. Speech synthesis is skipped unless
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
SPLITS = ("tune", "held-out")


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
PERSONAS = {p.name: p for p in (BELLA, MILO, PIXEL, ROSA, NORA)}

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

QUESTIONS = TUNE + HELD_OUT

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
    failed: list[str] = []
    for group in question.expect:
        if not any(_has(t, alt) for alt in group):
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
            question, done.text, first, score(question, done.text), done.timings.as_dict()
        )
        if verbose:
            mark = "ok " if result.score.ok else "BAD"
            print(f"{mark} [{question.category}] {question.persona}: {question.text}")
            if first is not None:
                print(f"      (before: {question.before} → {first})")
            print(f"      → {done.text}")
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
            f"{split:9s} overall {o['accuracy']:.0%} ({o['n']})  {cats}  "
            f"first-person {fp['accuracy']:.0%} ({fp['n']})"
        )
    for key, v in s["latency"].items():
        print(f"{key:20s} p50 {v['p50']:.3f} s  p95 {v['p95']:.3f} s  mean {v['mean']:.3f} s")


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
    parser.add_argument("--split", choices=(*SPLITS, "all"), default="all")
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
    questions = [
        x
        for x in QUESTIONS
        if (args.split == "all" or x.split == args.split)
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
        "held_out": "split 'held-out' was written after tuning on split 'tune'",
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
