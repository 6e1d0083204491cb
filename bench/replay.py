"""Replay recorded answers through the current answer check, without the language model.

``bench/answers.py`` and ``bench/knowledge.py`` record each answer and, under ``replaced``, the
model's words that the answer check (``characters/knowledge/grounding.py``) replaced. This tool
feeds those words back as the model's, word by word, through the real ``Conversation.respond``
(retrieval, the check, the replacement) and scores the result with the benchmark's scorer: in
seconds, it shows which answers a change of the check fixes and which it breaks.

It predicts, it does not measure: the model is not asked again, so a follow-up whose first turn
now ends differently, or a question that is now declined or no longer declined before the model,
is judged on the old words. Confirm with a real run (on 2026-12-06 the prediction for 161
questions, 92.8 %, matched the real run to the answer). Run from the repository root:

    python bench/replay.py answers bench/results/answers-s1.json [more.json ...] [-v]
    python bench/replay.py knowledge bench/results/knowledge-s1.json -v

Prints the accuracy before (as recorded) and now, every answer that changed verdict, and with
``-v`` every answer still wrong; ``--out DIR`` writes the replayed answers, a results file per
input file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from characters.config import load_settings  # noqa: E402
from characters.conversation import engine as engine_module  # noqa: E402
from characters.conversation.engine import Engines  # noqa: E402


class RecordedLLM:
    """Streams, for each question, the words recorded for it (word by word, as the model
    would); a question with nothing recorded gets "I don't know."."""

    native_tools = False

    def __init__(self) -> None:
        self.said: dict[str, str] = {}

    def check(self) -> None:
        pass

    def warm(self, _messages: Any) -> None:
        pass

    def stream(self, messages: Sequence[dict[str, str]], **_: Any) -> Iterator[str]:
        asked = next(m["content"] for m in reversed(messages) if m["role"] == "user")
        for word in self.said.get(asked.split("\n\n(")[0], "I don't know.").split(" "):
            yield f"{word} "


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bench", choices=("answers", "knowledge"))
    parser.add_argument("results", type=Path, nargs="+", help="results files of that benchmark")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every wrong answer")
    parser.add_argument(
        "--out", type=Path, help="write the replayed answers, one results file per input, here"
    )
    args = parser.parse_args(argv)
    if args.bench == "answers":
        import bench.answers as bench
    else:
        import bench.knowledge as bench  # type: ignore[no-redef]
    settings = load_settings()
    llm = RecordedLLM()
    engines = Engines(settings=settings, llm=llm)  # type: ignore[arg-type]
    engine_module.synthesize = lambda _text, _voice: iter(())  # type: ignore[assignment]
    questions = {(x.persona, x.text): x for x in bench.QUESTIONS}
    indexes: dict[str, Any] = {}
    before = now = total = 0
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    for path in args.results:
        replayed = []
        rows = json.loads(path.read_text())["results"]
        llm.said.clear()
        asked = []
        for row in rows:
            question = questions[(row["persona"], row["question"])]
            llm.said[question.text] = row.get("replaced") or row["answer"]
            if question.before and row.get("first_answer"):
                llm.said.setdefault(question.before, row["first_answer"])
            asked.append((question, row))
        if args.bench == "answers":
            results = bench.run(engines, [q for q, _ in asked], False)
        else:
            if not indexes:
                indexes = {
                    n: bench.build_index(c.documents, settings) for n, c in bench.CASTS.items()
                }
            results = bench.run_accuracy(engines, [q for q, _ in asked], indexes, False)
        for (question, row), result in zip(asked, results, strict=True):
            replayed.append(result.as_dict())
            total += 1
            before += row["ok"]
            now += result.score.ok
            if row["ok"] != result.score.ok or (args.verbose and not result.score.ok):
                mark = (
                    "WRONG"
                    if row["ok"] == result.score.ok
                    else ("FIXED" if result.score.ok else "BROKE")
                )
                print(
                    f"{mark} [{question.split} {question.category}] {question.persona}: {question.text}"
                )
                print(f"    model: {row.get('replaced') or row['answer']}")
                print(f"    was:   {row['answer']}")
                print(f"    now:   {result.answer}  {'; '.join(result.score.failed)}")
        if args.out:
            (args.out / path.name).write_text(json.dumps({"results": replayed}, indent=1))
    print(f"{total} answers: {before / total:.1%} as recorded, {now / total:.1%} now")


if __name__ == "__main__":
    main()
