"""Actions benchmark: does the character call the right tool, with the right arguments, when the
user asks for an action, call none when they do not, and speak a backend's result?

Runs the real text path (``Engines.load(settings, listen=False)``, ``Conversation.respond``,
with the tools in Runway's shapes, Runway's ready-made page actions among them) over requests
put to two invented characters, each several times at the live temperature:

* **call**: the user asks for an action (or asks something only an action can answer); the
  first valid call of the answer must be the expected tool with the expected arguments (after
  the checks and mending of ``characters/conversation/tools.py``; a page target matches as the
  widget finds elements: ``#`` and case aside, ``-``/``_`` alike);
* **none**: an ordinary question; no tool may be called;
* **result**: a ``backend_rpc`` request answered by a fake backend with a fact no model can
  know; the answer must say it. Counted apart: how often the model's own words used the result,
  and how often the result had to be said plainly for it.

Half of the requests (``split="held-out"``) were written after the prompt was tuned on the
other half.

    python bench/actions.py                  # 3 runs of every request
    python bench/actions.py --runs 1 -v      # print every answer

Prints the rates and writes ``bench/results/actions-<model>.json``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.answers import silent_synthesis  # noqa: E402
from characters.config import load_settings  # noqa: E402
from characters.conversation import engine as engine_module  # noqa: E402
from characters.conversation.engine import (  # noqa: E402
    AgentDone,
    AgentToolCall,
    AgentToolResult,
    Conversation,
    Engines,
)
from characters.conversation.prompt import (  # noqa: E402
    Character,
    ToolCall,
    ToolSpec,
    tools_from_runway,
)
from characters.conversation.tools import (  # noqa: E402
    EVENT_SENT,
    PAGE_ACTIONS,
    ToolResult,
    spoken_result,
)

MUSEUM = Character(
    "Ada",
    "You are Ada, the guide of the Blue Lake Museum. Facts: the museum opens at 9 am and "
    "closes at 5 pm, every day except Monday. A ticket costs 12 dollars. The museum's most "
    "famous painting is The Green Heron. The web page has these parts: ticket-prices, "
    "opening-hours, buy-tickets (a button).",
    start_script="Hello, I'm Ada. Ask me anything about the Blue Lake Museum!",
    tools=tools_from_runway(
        [
            {
                "type": "client_event",
                "name": "show_map",
                "description": "Show the museum map of one room on the user's screen.",
                "parameters": [
                    {
                        "type": "string",
                        "name": "room",
                        "description": "The room to show",
                        "enum": ["lobby", "gallery", "cafe"],
                    }
                ],
            },
            {
                "type": "backend_rpc",
                "name": "check_order",
                "description": "Look up the status of a ticket order by its order number.",
                "parameters": [
                    {"type": "integer", "name": "order_number", "description": "The order number"}
                ],
            },
            *PAGE_ACTIONS,
        ]
    ),
)
CLINIC = Character(
    "Bella",
    "You are Bella, the receptionist of Sunny Dental. The clinic is open from 8 am to 6 pm on "
    "weekdays. A check-up costs 80 dollars. The web page has these parts: prices, "
    "contact-form, book-button (a button).",
    start_script="Hi, this is Bella from Sunny Dental. How can I help you?",
    tools=tools_from_runway(
        [
            {
                "type": "backend_rpc",
                "name": "book_appointment",
                "description": "Book a dental appointment on a weekday.",
                "parameters": [
                    {
                        "type": "string",
                        "name": "day",
                        "description": "Day of the week",
                        "enum": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                    }
                ],
            },
            {
                "type": "client_event",
                "name": "show_directions",
                "description": "Show the user directions to the clinic.",
            },
            *PAGE_ACTIONS,
        ]
    ),
)
CHARACTERS = {"museum": MUSEUM, "clinic": CLINIC}


@dataclass(frozen=True)
class Request:
    character: str
    text: str
    split: str
    tool: str | None = None
    args: tuple[tuple[str, Any], ...] = ()
    result: Any = None
    """For a backend call: what the fake backend answers."""
    fact: str = ""
    """For a backend call: a word of the result the answer must say."""


def req(character: str, text: str, split: str, tool: str | None = None, **kw: Any) -> Request:
    result = kw.pop("result", None)
    fact = kw.pop("fact", "")
    return Request(character, text, split, tool, tuple(kw.items()), result, fact)


REQUESTS = [
    # tune
    req("museum", "Can you show me the map of the gallery?", "tune", "show_map", room="gallery"),
    req(
        "museum",
        "What's the status of my ticket order 4417?",
        "tune",
        "check_order",
        order_number=4417,
        result={"status": "shipped", "arrives": "Thursday"},
        fact="thursday",
    ),
    req(
        "museum",
        "Highlight the ticket prices on the page.",
        "tune",
        "highlight",
        target="ticket-prices",
    ),
    req("museum", "Scroll down to the opening hours.", "tune", "scroll_to", target="opening-hours"),
    req("museum", "Click the buy tickets button for me.", "tune", "click", target="buy-tickets"),
    req(
        "clinic",
        "Please book me an appointment for Tuesday.",
        "tune",
        "book_appointment",
        day="tuesday",
        result={"booked": True, "time": "10:30 am", "dentist": "Dr. Okafor"},
        fact="okafor",
    ),
    req("clinic", "How do I get to the clinic? Show me.", "tune", "show_directions"),
    req("museum", "When do you open?", "tune"),
    req("museum", "How much is a ticket?", "tune"),
    req("clinic", "Are you open on weekends?", "tune"),
    req("clinic", "How much is a check-up?", "tune"),
    # held-out (written after tuning)
    req(
        "museum", "Where's the cafe? Put it on the map please.", "held-out", "show_map", room="cafe"
    ),
    req(
        "museum",
        "Could you check order number 1290?",
        "held-out",
        "check_order",
        order_number=1290,
        result="Order 1290 is ready for pickup at the north desk.",
        fact="north",
    ),
    req(
        "museum",
        "Show me where the opening hours are on this page.",
        "held-out",
        "scroll_to",
        target="opening-hours",
    ),
    req("clinic", "Can you highlight the prices for me?", "held-out", "highlight", target="prices"),
    req("clinic", "Press the book button.", "held-out", "click", target="book-button"),
    req(
        "clinic",
        "I'd like to come in on Friday, can you book that?",
        "held-out",
        "book_appointment",
        day="friday",
        result={"booked": False, "reason": "fully booked, next free day is Monday"},
        fact="monday",
    ),
    req("clinic", "Which way is the clinic? Give me directions.", "held-out", "show_directions"),
    req("museum", "Tell me about the Green Heron.", "held-out"),
    req("museum", "Is the museum open on Monday?", "held-out"),
    req("clinic", "What time do you close?", "held-out"),
    req("clinic", "Do you do teeth whitening?", "held-out"),
]


class FakeBackend:
    """Answers backend calls at once with the request's result."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.calls: list[ToolCall] = []

    def start(self, tool: ToolSpec, call: ToolCall) -> concurrent.futures.Future[ToolResult]:
        self.calls.append(call)
        future: concurrent.futures.Future[ToolResult] = concurrent.futures.Future()
        future.set_result(ToolResult(call.id, tool.name, self.result, None, 5.0))
        return future


def _target(value: Any) -> str:
    return re.sub(r"[\s_\-]+", "-", str(value).strip().lstrip("#").lower())


@dataclass
class Outcome:
    request: Request
    run: int
    calls: list[tuple[str, dict[str, Any], bool]]
    said: str
    seconds: float
    correct: bool
    model_used_result: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        r = self.request
        return {
            "character": r.character,
            "text": r.text,
            "split": r.split,
            "run": self.run,
            "expected": None if r.tool is None else {"tool": r.tool, "args": dict(r.args)},
            "calls": [{"tool": n, "args": a, "valid": v} for n, a, v in self.calls],
            "said": self.said,
            "seconds": round(self.seconds, 2),
            "correct": self.correct,
            "modelUsedResult": self.model_used_result,
        }


def judge(request: Request, calls: list[tuple[str, dict[str, Any], bool]]) -> bool:
    valid = [(n, a) for n, a, ok in calls if ok]
    if request.tool is None:
        return not calls
    if not valid:
        return False
    name, args = valid[0]
    if name != request.tool:
        return False
    for key, want in request.args:
        got = args.get(key)
        if key == "target":
            if _target(got) != _target(want):
                return False
        elif str(got).lower() != str(want).lower():
            return False
    return True


def run(
    engines: Engines, requests: Sequence[Request], runs: int, verbose: bool
) -> Iterator[Outcome]:
    for request in requests:
        for i in range(runs):
            backend = FakeBackend(request.result)
            conversation = Conversation(engines, CHARACTERS[request.character], actions=backend)
            started = time.monotonic()
            calls: list[tuple[str, dict[str, Any], bool]] = []
            results: list[ToolResult] = []
            done: AgentDone | None = None
            for event in conversation.respond(request.text):
                if isinstance(event, AgentToolCall):
                    calls.append((event.name, dict(event.arguments), event.valid))
                elif isinstance(event, AgentToolResult):
                    results.append(event.result)
                elif isinstance(event, AgentDone):
                    done = event
            assert done is not None
            correct = judge(request, calls)
            used: bool | None = None
            if request.fact and correct:
                backend_results = [r for r in results if r.result != EVENT_SENT]
                plain = spoken_result(backend_results, engine_module.FAILED_LINE)
                used = done.raw.strip() != plain.strip()
                correct = request.fact in done.text.lower()
            outcome = Outcome(
                request, i, calls, done.text, time.monotonic() - started, correct, used
            )
            if verbose:
                mark = "ok " if correct else "BAD"
                print(f"{mark} [{request.character}] {request.text} -> {calls} | {done.text}")
            yield outcome


def summary(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    def rate(items: Sequence[Outcome]) -> dict[str, Any]:
        n = len(items)
        ok = sum(o.correct for o in items)
        return {"correct": ok, "total": n, "rate": round(ok / n, 3) if n else None}

    out: dict[str, Any] = {"all": rate(outcomes)}
    for split in ("tune", "held-out"):
        of_split = [o for o in outcomes if o.request.split == split]
        out[split] = rate(of_split)
    calls = [o for o in outcomes if o.request.tool is not None]
    out["call"] = rate(calls)
    chosen = sum(bool([n for n, _, ok in o.calls if ok][:1] == [o.request.tool]) for o in calls)
    out["tool_chosen"] = {"correct": chosen, "total": len(calls)}
    out["none"] = rate([o for o in outcomes if o.request.tool is None])
    backend = [o for o in outcomes if o.request.fact]
    out["result"] = rate(backend)
    used = [o for o in backend if o.model_used_result is not None]
    out["result_in_model_words"] = {
        "count": sum(bool(o.model_used_result) for o in used),
        "of": len(used),
    }
    seconds = sorted(o.seconds for o in outcomes)
    out["answer_seconds_p50"] = round(seconds[len(seconds) // 2], 2) if seconds else None
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="llm_model (a registry id, or the remote model name)")
    parser.add_argument("--runs", type=int, default=3, help="answers per request")
    parser.add_argument("--split", choices=("tune", "held-out", "all"), default="all")
    parser.add_argument("--only", choices=("call", "none", "result"), help="one kind only")
    parser.add_argument(
        "--results",
        choices=("auto", "model", "plain"),
        default="model",
        help="action_results: model (default here: measures the model's own words), plain, auto",
    )
    parser.add_argument("--out", type=Path, help="JSON path")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every answer")
    args = parser.parse_args(argv)
    settings = load_settings(action_results=args.results)
    if args.model:
        settings = settings.model_copy(update={"llm_model": args.model})
    engine_module.synthesize = silent_synthesis  # type: ignore[assignment]
    kinds = {
        "call": lambda r: r.tool is not None,
        "none": lambda r: r.tool is None,
        "result": lambda r: bool(r.fact),
    }
    requests = [
        r
        for r in REQUESTS
        if (args.split == "all" or r.split == args.split)
        and (args.only is None or kinds[args.only](r))
    ]
    started = time.monotonic()
    engines = Engines.load(settings, listen=False)
    outcomes = list(run(engines, requests, args.runs, args.verbose))
    s = summary(outcomes)
    for key in ("all", "tune", "held-out", "call", "none", "result"):
        v = s[key]
        print(f"{key:>9}: {v['correct']}/{v['total']} ({100 * (v['rate'] or 0):.0f} %)")
    chosen = s["tool_chosen"]
    print(f"right tool (arguments aside): {chosen['correct']}/{chosen['total']}")
    used = s["result_in_model_words"]
    print(f"backend results in the model's own words: {used['count']}/{used['of']}")
    print(f"{len(outcomes)} answers in {time.monotonic() - started:.0f} s")
    report = {
        "model": settings.llm_model,
        "settings": {
            "llm_model": settings.llm_model,
            "llm_url": settings.llm_url,
            "llm_temperature": settings.llm_temperature,
            "llm_threads": settings.llm_threads,
            "action_results": settings.action_results,
        },
        "runs": args.runs,
        "held_out": "split 'held-out' was written after tuning on split 'tune'",
        "summary": s,
        "outcomes": [o.as_dict() for o in outcomes],
    }
    out = args.out or Path(__file__).parent / "results" / f"actions-{settings.llm_model}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
