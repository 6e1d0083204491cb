"""The character's prompt: persona and rules first, memory trimmed, knowledge last, tools."""

from __future__ import annotations

import json

import pytest

from characters.conversation.prompt import (
    Character,
    build_messages,
    system_prompt,
    tools_from_runway,
)
from characters.errors import InvalidInput

BELLA = Character(
    name="Bella",
    personality="You are Bella, the receptionist of Sunny Dental. The clinic is open from "
    "8 am to 6 pm on weekdays.",
    start_script="Hi, this is Bella from Sunny Dental. How can I help?",
)
RUNWAY_TOOLS = [
    {"type": "client_event", "name": "show_map", "description": "Show a map of the clinic."},
    {
        "type": "backend_rpc",
        "name": "book_appointment",
        "description": "Book an appointment.",
        "timeoutSeconds": 6,
        "parameters": [
            {"type": "string", "name": "day", "description": "Weekday", "enum": ["mon", "tue"]},
            {"type": "integer", "name": "people", "description": "How many", "required": False},
            {"type": "array", "name": "notes", "description": "Notes", "items": {"type": "string"}},
            {
                "type": "object",
                "name": "contact",
                "description": "Who",
                "properties": [{"type": "string", "name": "phone", "description": "Phone"}],
            },
        ],
    },
]


def turns(n: int, size: int = 100) -> list[dict[str, str]]:
    out = []
    for i in range(n):
        out.append({"role": "user", "content": f"question {i} " + "x" * size})
        out.append({"role": "assistant", "content": f"answer {i} " + "y" * size})
    return out


def test_system_prompt_is_the_persona_then_the_speaking_rules() -> None:
    prompt = system_prompt(BELLA)
    assert prompt.startswith(BELLA.personality or "")
    for rule in ("first person", "one to three short", "no lists", "no markdown", "emoji"):
        assert rule in prompt
    assert "AI" in prompt and "one question at a time" in prompt
    assert len(prompt) < 700, "the system prompt is evaluated on 2 cores: keep it short"


def test_messages_are_system_start_script_history_in_order() -> None:
    history = [*turns(1), {"role": "user", "content": "When are you open?"}]
    messages = build_messages(BELLA, history)
    assert [m["role"] for m in messages] == ["system", "assistant", "user", "assistant", "user"]
    assert messages[1]["content"] == BELLA.start_script
    assert messages[-1]["content"] == "When are you open?"


def test_a_character_without_personality_or_script_still_speaks_as_itself() -> None:
    messages = build_messages(Character(name="Max"), [{"role": "user", "content": "hi"}])
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "You are Max" in messages[0]["content"]


def test_trimming_drops_oldest_turns_but_keeps_system_script_and_last() -> None:
    history = [*turns(40), {"role": "user", "content": "latest"}]
    messages = build_messages(BELLA, history, max_chars=2000)
    assert sum(len(m["content"]) for m in messages) <= 2000
    assert messages[0]["role"] == "system" and messages[1]["content"] == BELLA.start_script
    assert messages[2]["role"] == "user", "memory starts on a user turn"
    assert messages[-1]["content"] == "latest"
    assert "question 39" in messages[-3]["content"] and "question 0 " not in str(messages)


def test_an_overlong_last_message_is_cut_not_dropped() -> None:
    messages = build_messages(BELLA, [{"role": "user", "content": "z" * 10_000}], max_chars=1500)
    assert messages[-1]["role"] == "user" and 0 < len(messages[-1]["content"]) < 1500


def test_the_stable_prefix_is_the_same_whatever_the_turn() -> None:
    first = build_messages(BELLA, [{"role": "user", "content": "a"}], retrieved=["fact one"])
    later = build_messages(BELLA, [*turns(2), {"role": "user", "content": "b"}], retrieved=["two"])
    assert first[:2] == later[:2] == build_messages(BELLA, [])


def test_knowledge_goes_after_the_cached_prefix_just_before_the_question() -> None:
    history = [*turns(2), {"role": "user", "content": "Do you take insurance?"}]
    messages = build_messages(BELLA, history, retrieved=["We accept Delta insurance.", " "])
    assert messages[:-2] == build_messages(BELLA, history[:-1])
    knowledge = messages[-2]
    assert knowledge["role"] == "system" and "We accept Delta insurance." in knowledge["content"]
    assert messages[-1]["content"] == "Do you take insurance?"


def test_knowledge_is_cut_to_its_budget() -> None:
    messages = build_messages(
        BELLA, [{"role": "user", "content": "q"}], retrieved=["a " * 500, "b " * 500]
    )
    knowledge = messages[-2]["content"]
    assert len(knowledge) < 1600 and "b b ...\n" in knowledge, "the second one is cut"
    assert knowledge.endswith("a a"), "the best passage is written last, nearest the question"


def test_tools_are_described_with_a_call_line_for_the_embedded_model() -> None:
    character = Character(
        name="Bella", personality="Receptionist.", tools=tools_from_runway(RUNWAY_TOOLS)
    )
    prompt = build_messages(character, [])[0]["content"]
    assert '<call>{"name": "show_map", "arguments": {}}</call>' in prompt
    line = next(x for x in prompt.splitlines() if "book_appointment" in x)
    call = json.loads(line.split("<call>")[1].removesuffix("</call>"))
    assert call == {
        "name": "book_appointment",
        "arguments": {"day": "mon", "notes": ["..."], "contact": {"phone": "..."}},
    }
    assert "people (integer; optional): How many" in prompt
    native = build_messages(character, [], native_tools=True)[0]["content"]
    assert "<call>" not in native and "show_map" not in native


def test_runway_tools_convert_to_openai_functions() -> None:
    show_map, book = tools_from_runway(RUNWAY_TOOLS)
    assert show_map.kind == "client_event" and book.kind == "backend_rpc"
    assert book.timeout_s == 6
    assert book.openai() == {
        "type": "function",
        "function": {
            "name": "book_appointment",
            "description": "Book an appointment.",
            "parameters": {
                "type": "object",
                "properties": {
                    "day": {"type": "string", "description": "Weekday", "enum": ["mon", "tue"]},
                    "people": {"type": "integer", "description": "How many"},
                    "notes": {"type": "array", "description": "Notes", "items": {"type": "string"}},
                    "contact": {
                        "type": "object",
                        "description": "Who",
                        "properties": {"phone": {"type": "string", "description": "Phone"}},
                        "required": ["phone"],
                    },
                },
                "required": ["day", "notes", "contact"],
            },
        },
    }


@pytest.mark.parametrize(
    ("tools", "path"),
    [
        ([{"name": "1bad", "description": "d"}], ["tools", 0, "name"]),
        ([{"name": "a", "description": ""}], ["tools", 0, "description"]),
        ([{"name": "a", "description": "d", "type": "webhook"}], ["tools", 0, "type"]),
        (
            [{"name": "a", "description": "d", "parameters": [{"name": "p", "type": "date"}]}],
            ["tools", 0, "parameters", 0, "type"],
        ),
        (
            [{"name": "a", "description": "d"}, {"name": "a", "description": "e"}],
            ["tools", 1, "name"],
        ),
        (["show_map"], ["tools", 0]),
    ],
)
def test_bad_runway_tools_name_the_field(tools: list[object], path: list[object]) -> None:
    with pytest.raises(InvalidInput) as err:
        tools_from_runway(tools)
    assert err.value.path == path


def test_tool_results_and_bad_history() -> None:
    messages = build_messages(BELLA, [{"role": "tool", "name": "book", "content": "booked"}])
    assert messages[-1] == {"role": "system", "content": "Result of book: booked"}
    with pytest.raises(InvalidInput):
        build_messages(BELLA, [{"role": "robot", "content": "x"}])


def test_the_persona_facts_for_the_question_follow_it_with_the_rules_again() -> None:
    history = [*turns(1), {"role": "user", "content": "Can I come on Saturday?"}]
    fact = "The clinic is open from 8 am to 6 pm on weekdays."
    messages = build_messages(BELLA, history, facts=[fact], retrieved=["Delta insurance."])
    assert messages[:-2] == build_messages(BELLA, history[:-1])
    assert messages[-2]["role"] == "system" and "Delta insurance." in messages[-2]["content"]
    question = messages[-1]["content"]
    assert question.startswith("Can I come on Saturday?\n\n(Facts: " + fact)
    assert question.endswith("say you don't know.)")
    nothing = build_messages(BELLA, history, facts=[])[-1]["content"]
    assert "Facts: none about this." in nothing
    assert build_messages(BELLA, history)[-1]["content"] == "Can I come on Saturday?"


def test_the_rules_ask_for_the_first_person_and_for_truth() -> None:
    prompt = system_prompt(BELLA)
    assert "never call yourself Bella" in prompt
    assert "say you don't know" in prompt and "say no and give the true fact" in prompt


def test_questions_for_information_and_small_talk() -> None:
    from characters.conversation.prompt import asks_for_information

    for asked in (
        "When do you open?",
        "Have you got a lift?",
        "How is your day pass priced?",
        "I live in town. Is the card free for me?",
        "What a shame. Can I come tomorrow?",
    ):
        assert asks_for_information(asked), asked
    for talk in (
        "Hello! How are you today?",
        "How's your day going, Jonas?",
        "That's all I needed, thanks Tova. Have a good one!",
        "Thanks, bye!",
        "Evening! We've just driven up from the coast. What a view from up here!",
        "How lovely!",
    ):
        assert not asks_for_information(talk), talk
