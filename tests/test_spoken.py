"""SpokenStream: model deltas → speakable chunks and tool calls, whatever the delta splits."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from characters.conversation.prompt import ToolCall, ToolSpec, tools_from_runway
from characters.conversation.spoken import (
    Speech,
    SpokenStream,
    ToolCallEvent,
    parse_call,
    without_label,
)

MARKDOWN_ANSWER = (
    "## Opening hours\n"
    "Sure, **we are open** on _weekdays_:\n"
    "- Monday to Friday: 8 am to 6 pm\n"
    "* Saturday: closed\n"
    "1. Call us first.\n"
    "2) Then come in 😀!\n"
    "---\n"
    "```python\nprint('never spoken')\n```\n"
    "See [our site](https://example.com/hours) — or ask me > anything | else."
)
CALL_ANSWER = (
    'Sure, let me show you where we are. <call>{"name": "show_map", "arguments": '
    '{"city": "Paris"}}</call> Here it is!'
)
TEXTS = [
    MARKDOWN_ANSWER,
    CALL_ANSWER,
    "We open at 8 a.m. and close at 6 p.m. See you soon, Dr. Smith! Bye.",
    'Booking now. <tool_call>\n{"name": "book", "arguments": "{\\"day\\": \\"Tuesday\\"}"}\n'
    "</tool_call>",
    'Okay <call>{"name": "show_map", "arguments": {}}\nAnything else?',
    "Hello there, my good friend, how are you today? I am fine_thanks, 3.5 times over.",
]


def run(pieces: list[str], **kwargs: object) -> list[Speech | ToolCallEvent]:
    stream = SpokenStream(**kwargs)  # type: ignore[arg-type]
    events: list[Speech | ToolCallEvent] = []
    for piece in pieces:
        events += stream.feed(piece)
    return events + stream.flush()


def comparable(events: list[Speech | ToolCallEvent]) -> list[object]:
    """Events without the random call ids."""
    return [
        (e.call.name, dict(e.call.arguments)) if isinstance(e, ToolCallEvent) else e.text
        for e in events
    ]


def spoken(events: list[Speech | ToolCallEvent]) -> list[str]:
    return [e.text for e in events if isinstance(e, Speech)]


@pytest.mark.parametrize("text", TEXTS)
def test_every_two_way_split_gives_the_same_events(text: str) -> None:
    whole = comparable(run([text]))
    for i in range(len(text) + 1):
        assert comparable(run([text[:i], text[i:]])) == whole, f"split at {i}: {text[:i]!r}"


@pytest.mark.parametrize("text", TEXTS)
def test_one_character_deltas_give_the_same_events(text: str) -> None:
    assert comparable(run(list(text))) == comparable(run([text]))


@settings(max_examples=60, deadline=None)
@given(text=st.sampled_from(TEXTS), cuts=st.lists(st.integers(0, 400), max_size=12))
def test_any_split_gives_the_same_events(text: str, cuts: list[int]) -> None:
    points = sorted({c % (len(text) + 1) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    assert comparable(run(pieces)) == comparable(run([text]))


def test_markdown_lists_and_symbols_become_plain_sentences() -> None:
    said = spoken(run([MARKDOWN_ANSWER]))
    assert said == [
        "Opening hours.",
        "Sure, we are open on weekdays: Monday to Friday: 8 am to 6 pm.",
        "Saturday: closed.",
        "Call us first.",
        "Then come in!",
        "See our site, or ask me anything else.",
    ]
    for text in said:
        assert not set(text) & set("*_#`[]()<>|{}~"), text


def test_first_chunk_is_cut_at_a_clause_of_four_words_later_ones_are_sentences() -> None:
    said = spoken(run(["Well, hello there, my good friend, how are you today? Fine, thanks, bye."]))
    assert said == [
        "Well, hello there, my good friend,",
        "how are you today?",
        "Fine, thanks, bye.",
    ]


def test_the_first_clause_is_ready_before_the_sentence_ends() -> None:
    stream = SpokenStream()
    assert stream.feed("Sure thing, my dear friend, let me") == [
        Speech("Sure thing, my dear friend,")
    ]
    assert stream.feed(" check the calendar") == []
    assert stream.feed(". Tuesday") == [Speech("let me check the calendar.")]
    assert stream.flush() == [Speech("Tuesday")]


def test_abbreviations_and_decimals_do_not_end_a_sentence() -> None:
    said = spoken(run(["Dr. Smith sees you at 8 a.m. for 1.5 hours. Bring your card."]))
    assert said == ["Dr. Smith sees you at 8 a.m. for 1.5 hours.", "Bring your card."]


def test_a_tool_call_is_extracted_and_never_spoken() -> None:
    events = run([CALL_ANSWER])
    assert comparable(events) == [
        "Sure, let me show you where we are.",
        ("show_map", {"city": "Paris"}),
        "Here it is!",
    ]
    call = events[1]
    assert isinstance(call, ToolCallEvent) and call.call.id.startswith("call_")


def test_qwen_style_tags_string_arguments_and_a_missing_closing_tag() -> None:
    assert comparable(run([TEXTS[3]])) == ["Booking now.", ("book", {"day": "Tuesday"})]
    assert comparable(run([TEXTS[4]])) == ["Okay", ("show_map", {}), "Anything else?"]
    assert comparable(run(['<call>{"name": "show_map", "arguments": {}}'])) == [("show_map", {})]


def test_a_malformed_call_is_dropped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        events = run(["One moment. <call>{name: show_map}</call> Done."])
    assert comparable(events) == ["One moment.", "Done."]
    assert "malformed tool call" in caplog.text


def test_known_tools_filter_names_and_invented_arguments(caplog: pytest.LogCaptureFixture) -> None:
    tools = tools_from_runway(
        [{"type": "client_event", "name": "show_map", "description": "Show a map."}]
    )
    text = (
        '<call>{"name": "show_map", "arguments": {"location": "x"}}</call>'
        '<call>{"name": "launch_rocket", "arguments": {}}</call>'
    )
    with caplog.at_level(logging.WARNING):
        assert comparable(run([text], tools=tools)) == [("show_map", {})]
    assert "unknown tool 'launch_rocket'" in caplog.text


def test_native_tool_calls_pass_through_after_the_text_before_them() -> None:
    stream = SpokenStream()
    call = ToolCall("show_map", {"city": "Oslo"}, "call_1")
    assert stream.feed("Here is the map") == []
    assert stream.feed(call) == [Speech("Here is the map"), ToolCallEvent(call)]
    assert stream.flush() == []


def test_parse_call_shapes() -> None:
    assert parse_call('{"name": "a", "args": {"x": 1}}') == ToolCall("a", {"x": 1}, id=ANY_ID)
    assert parse_call('{"name": "a"}') is not None
    assert parse_call('{"name": 3}') is None
    assert parse_call("[1, 2]") is None
    assert parse_call('{"name": "a", "arguments": "not json"}') is None


class _AnyId(str):
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str)

    def __hash__(self) -> int:
        return 0


ANY_ID = _AnyId("any")


def test_tool_spec_type_is_exported() -> None:
    assert ToolSpec("a", "b").openai()["function"]["parameters"] == {
        "type": "object",
        "properties": {},
        "required": [],
    }


@pytest.mark.parametrize(
    ("text", "chunks"),
    [
        (
            "We're open from 8 am to 6 pm, Monday to Friday.",
            ["We're open", "from 8 am to 6 pm, Monday to Friday."],
        ),
        (
            "The clinic is in Springfield. It is near the park.",
            ["The clinic is", "in Springfield.", "It is near the park."],
        ),
        ("Open from nine.", ["Open from nine."]),  # one word before "from": no split
        ("A check-up costs sixty dollars.", ["A check-up costs sixty dollars."]),
        # Before a verb or a figure, three words in.
        (
            "The most famous painting is The Green Heron.",
            ["The most famous painting", "is The Green Heron."],
        ),
        ("A ticket costs 12 dollars.", ["A ticket costs", "12 dollars."]),
        ("It costs 12 dollars.", ["It costs 12 dollars."]),
        ("My name is Ada.", ["My name is Ada."]),
        (
            "Tickets are 12 dollars, and it is free on Sundays.",
            ["Tickets are 12 dollars,", "and it is free on Sundays."],
        ),
    ],
)
def test_first_chunk_may_end_before_a_phrase(text: str, chunks: list[str]) -> None:
    """Only the first chunk is cut before a phrase-opening word (two words in), a verb or a
    figure (three words in)."""
    parser = SpokenStream(first_clause_words=1, first_phrase_words=2)
    events = [e for ch in text for e in parser.feed(ch)] + parser.flush()
    assert [e.text for e in events] == chunks


@pytest.mark.parametrize(
    ("text", "headings", "asked", "said"),
    [
        ("Leave: Full-time staff get 27 days.", {"leave"}, "", "Full-time staff get 27 days."),
        ("Leave:", {"leave"}, "", ""),
        ("Card cost: cards are free.", set(), "How much does a card cost?", "Cards are free."),
        ("Closing times: we close at 8 pm.", set(), "What time do you close?", "We close at 8 pm."),
        # Not a heading, not the question's words: a colon of the answer's own.
        ("Good news: cards are free.", set(), "How much does a card cost?", None),
        ("Materials are paid for: filament costs 5 cents.", {"costs"}, "What do I pay?", None),
        ("At 10:30 am.", {"at 10"}, "When?", None),
        ("E31: the burrs are jammed.", set(), "", None),
        # The heading with other punctuation ("-" read as ","), as the model says it.
        (
            "MARROWBY PUBLIC LIBRARY, MAKERSPACE RULES: It opened in 2021.",
            {"marrowby public library - makerspace rules"},
            "When did it open?",
            "It opened in 2021.",
        ),
        ("Yes, of course: it opened in 2021.", {"history"}, "When did it open?", None),
    ],
)
def test_a_copied_heading_is_not_said(
    text: str, headings: set[str], asked: str, said: str | None
) -> None:
    assert without_label(text, headings, asked) == (text if said is None else said)
