"""Answers of a character without documents, checked against its persona: a question nothing it
knows is about gets the unknown line, an answer the persona does not back is replaced by the
persona's sentence that answers the question (in the first person), or by that line.

The language model is a scripted one here (the exact wrong answers a small model gives cannot be
provoked on demand); ``bench/answers.py`` measures the real model through the same path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from characters.config import load_settings
from characters.conversation import engine as engine_module
from characters.conversation.engine import AgentDone, Conversation, Engines
from characters.conversation.facts import (
    answering_facts,
    coverage,
    first_person,
    is_fact,
    persona_facts,
)
from characters.conversation.persona import NEAR_SCORE
from characters.conversation.prompt import Character

DENTAL = (
    "You are Bella, the friendly receptionist of Sunny Dental in Springfield. The clinic is "
    "open from 8 am to 6 pm, Monday to Friday, and closed at weekends. A check-up costs 60 "
    "dollars and a cleaning 90 dollars. Dr. Patel and Dr. Moreau are the dentists. Parking is "
    "free behind the building. Keep your answers short."
)
POOL = (
    "You are Nora, at the front desk of the Lakeside Swimming Pool. The pool is open from 6 am "
    "to 9 pm. Swimming caps are required. There is a sauna, for adults only."
)


class ScriptedLLM:
    """Answers every question with :attr:`answer`; records what it was asked."""

    native_tools = False

    def __init__(self) -> None:
        self.answer = ""
        self.asked: list[list[dict[str, Any]]] = []

    def check(self) -> None:
        pass

    def warm(self, messages: Any) -> None:
        pass

    def stream(self, messages: Any, **_: Any) -> Iterator[str]:
        self.asked.append(list(messages))
        yield self.answer


def _conversation(personality: str, **settings: Any) -> tuple[Conversation, ScriptedLLM]:
    llm = ScriptedLLM()
    engines = Engines(settings=load_settings(**settings), llm=llm)  # type: ignore[arg-type]
    return Conversation(engines, Character("Bella", personality=personality)), llm


@pytest.fixture(autouse=True)
def _no_speech(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "synthesize", lambda _text, _voice: iter(()))


def _said(conversation: Conversation, question: str) -> str:
    done = [e for e in conversation.respond(question) if isinstance(e, AgentDone)][-1]
    return done.text


LINE = load_settings().knowledge_unknown_line


def _said_when(personality: str, model_says: str, question: str) -> str:
    """What a character with ``personality`` says to ``question`` when the model says
    ``model_says``."""
    conversation, llm = _conversation(personality)
    llm.answer = model_says
    return _said(conversation, question)


def test_a_leading_yes_is_replaced_by_the_fact_that_answers_it() -> None:
    bella, llm = _conversation(DENTAL)
    llm.answer = "Yes, you can come in on Saturday morning."
    assert _said(bella, "Can I come in on Saturday morning?") == f"No. {persona_facts(DENTAL)[1]}"
    llm.answer = "I don't know."  # the days the fact names answer it
    assert _said(bella, "Can I come in on Sunday?") == f"No. {persona_facts(DENTAL)[1]}"
    # Whisper wrote "Is the museum open every day?" as a statement in a live call.
    llm.answer = "Yes, the clinic is open every day."
    assert _said(bella, "It's the clinic open every day.") == f"No. {persona_facts(DENTAL)[1]}"
    llm.answer = "Thank you!"
    assert _said(bella, "It's a lovely day.") == "Thank you!"  # small talk is not checked
    llm.answer = "Yes, a check-up is 40 dollars."
    said = _said(bella, "A check-up is 40 dollars, right?")
    assert said == f"No. {persona_facts(DENTAL)[2]}"  # the fact gives another price


def test_an_invented_number_without_a_fact_that_answers_is_never_said() -> None:
    """No fact answers it: the prices the persona does know come after the hedge (they are
    near the question), or the unknown line without a hedge to say them after."""
    bella, llm = _conversation(DENTAL)
    llm.answer = "A filling costs 120 dollars."
    partly = load_settings().knowledge_partial_line
    prices = persona_facts(DENTAL)[2]
    assert _said(bella, "How much does a filling cost?") == f"{partly} {prices}"
    bella, llm = _conversation(DENTAL, knowledge_partial_line="")
    llm.answer = "A filling costs 120 dollars."
    assert _said(bella, "How much does a filling cost?") == LINE


def test_a_question_nothing_known_is_about_is_declined_without_the_model() -> None:
    bella, llm = _conversation(DENTAL)
    llm.answer = "Yes, we do teeth whitening every day."
    assert _said(bella, "Do you do teeth whitening?") == LINE
    assert llm.asked == []


def test_answers_the_persona_backs_and_small_talk_are_said_as_written() -> None:
    bella, llm = _conversation(DENTAL)
    for question, answer in (
        ("When are you open?", "We're open from 8 am to 6 pm, Monday to Friday."),
        ("Who are the dentists?", "Dr. Patel and Dr. Moreau."),
        ("You're open on Saturdays, right?", "No, we're closed at weekends."),
        ("How are you today?", "I'm great, thank you!"),
    ):
        llm.answer = answer
        assert _said(bella, question) == answer


def test_a_persona_that_states_no_facts_or_the_setting_off_leaves_the_model_free() -> None:
    pirate, llm = _conversation("You are Captain Hook, a grumpy pirate. Speak like a pirate.")
    llm.answer = "Arr, I be having 300 cannons!"
    assert _said(pirate, "How many cannons do you have?") == llm.answer
    bella, llm = _conversation(DENTAL, persona_grounding=False)
    llm.answer = "Yes, we do teeth whitening every day."
    assert _said(bella, "Do you do teeth whitening?") == llm.answer


def test_the_fact_that_answers_a_question() -> None:
    facts = persona_facts(POOL)
    # A word of the same topic holds it ("kids" and "adults"; "Saturday" and "weekends").
    assert answering_facts(facts, "Can my kids use the sauna?") == [facts[3]]
    assert answering_facts(facts, "So I can swim without a cap, right?") == [facts[2]]
    # A rare word no fact has outweighs a word most facts share.
    assert answering_facts(facts, "How deep is the pool?") == []
    assert answering_facts(facts, "Who are you?") == []
    dental = persona_facts(DENTAL)
    assert answering_facts(dental, "Is it free?", context="Where can I park?") == [dental[4]]
    assert coverage(dental, "Can I come in on Saturday morning?") == 1.0
    assert coverage(dental, "Do you do teeth whitening?") == 0.0


def test_persona_sentences_as_facts_and_in_the_first_person() -> None:
    facts = persona_facts(DENTAL)
    assert [is_fact(f) for f in facts] == [False, True, True, True, True, False]
    assert first_person(facts[0]) == (
        "I am Bella, the friendly receptionist of Sunny Dental in Springfield."
    )
    assert first_person("Your order is ready when you arrive and you're welcome.") == (
        "My order is ready when I arrive and I'm welcome."
    )
    assert first_person("The café is on the second floor.") == "The café is on the second floor."


FERRY = (
    "You are Tomas, the ticket clerk at the ferry office. The ferry leaves at 8 am and 2 pm. "
    "A return ticket costs 18 dollars. There is a snack bar on board, and the office takes cash "
    "and cards. Dogs must stay on the outside deck. Boarding closes 10 minutes before each "
    "departure."
)


def test_the_fact_that_answers_is_found_by_meaning_too() -> None:
    ferry, _ = _conversation(FERRY)
    facts = ferry.persona_facts()
    leaves, _, snack, _, boarding = persona_facts(FERRY)[1:]
    assert facts.answering("Can I get a snack on board?") == [snack]
    assert facts.answering("What time does the boat go?") == [leaves]
    assert facts.answering("How late can I board?") == [boarding]
    assert facts.answering("Is there Wi-Fi on board?") == []
    # Near enough to take numbers from, not to answer with.
    assert facts.answering("Do you take credit cards?") == []
    assert facts.answering("Do you take credit cards?", min_score=NEAR_SCORE) == [snack]


def test_a_start_script_said_again_and_a_missing_figure_are_not_answers() -> None:
    ferry, llm = _conversation(FERRY)
    ferry.character = Character(
        "Tomas", personality=FERRY, start_script="Ferry office, Tomas speaking. Where to?"
    )
    llm.answer = "Ferry office, Tomas speaking. The ferry is great."
    assert _said(ferry, "When does the ferry leave?") == persona_facts(FERRY)[1]
    llm.answer = "The ferry leaves every day, all year round."
    assert _said(ferry, "What time does the ferry leave?") == persona_facts(FERRY)[1]
    llm.answer = "It leaves at 8 am and 2 pm."
    assert _said(ferry, "What time does the ferry leave?") == llm.answer


def test_yes_no_answers_against_the_fact() -> None:
    from characters.knowledge.grounding import disagrees, is_yes_no

    assert is_yes_no("Can I bring my dog?") and is_yes_no("It's 15 dollars, right?")
    assert is_yes_no("I live here. So the card is free for me, isn't it?")
    assert not is_yes_no("When does the ferry leave?") and not is_yes_no("How much is it?")
    dogs = "Dogs must stay on the outside deck."
    assert disagrees("Sure, bring your dog inside!", dogs)
    assert not disagrees("No, dogs stay outside.", dogs)
    free = "Parking is free behind the building."
    assert disagrees("No, parking is not free.", free)
    assert not disagrees("Yes, it's free.", free)
    # A "no" to a question with a claim the fact does not make is not against it.
    assert not disagrees("No, it takes 20 minutes.", "A repair takes 20 minutes.", confirms=False)
    # Nothing answers: neither a "yes" nor a "no" is backed ("No, the library does not have
    # free Wi-Fi." is as much a guess as "Yes").
    assert disagrees("Yes, we have Wi-Fi.", "") and disagrees("No, we don't have Wi-Fi.", "")
    assert not disagrees("We may have, I'm not sure.", "")
    # A "yes" against a fact with a limit of its own is replaced (by the fact), even one that
    # goes on to say the limit: "Of course, the sauna is for adults only."
    hours = "The museum opens at 9 am, every day except Monday."
    assert disagrees("Yes, it is open every day.", hours)
    sauna = "There is a sauna, for adults only."
    asked = "My ten-year-old can use the sauna, right?"
    assert disagrees("Of course, the sauna is for adults only.", sauna, question=asked)
    # ... but not a limit the question names itself.
    assert not disagrees("Yes, it is.", sauna, question="The sauna is only for adults, right?")


def test_yes_no_answers_about_a_day_are_read_against_the_days_the_fact_names() -> None:
    from characters.knowledge.grounding import disagrees
    from characters.knowledge.weekdays import days_fact, open_days

    library = "The library is open Tuesday to Saturday, from 9 am to 5 pm."
    clinic = "The clinic is open from 8 am to 6 pm, Monday to Friday, and closed at weekends."
    museum = "The museum is open every day from 10 am to 5 pm, except Mondays."
    assert open_days(library) == {1, 2, 3, 4, 5}
    assert open_days(clinic) == {0, 1, 2, 3, 4}
    assert open_days(museum) == {1, 2, 3, 4, 5, 6}
    assert open_days("We are closed on Sundays, Mondays and holidays.") == {1, 2, 3, 4, 5}
    assert open_days("Late opening on Thursdays until 8 pm.") is None  # not the open days
    every_day_but_monday = "The shop opens at 9 am and closes at 5 pm, every day except Monday."
    assert open_days(every_day_but_monday) == {1, 2, 3, 4, 5, 6}
    assert open_days("It closes at 5 pm on Fridays.") is None  # one day: not the open days
    facts = ["Tickets cost 14 dollars.", museum, "Guided tours start at 11 am."]
    assert days_fact("I'll come on Monday, you're open then, right?", facts) == museum
    assert days_fact("When do guided tours start?", facts) is None
    # No restrictive word in the fact: the days decide.
    asked = "You're open on Mondays, aren't you?"
    assert disagrees("Yes, we are open on Mondays.", library, question=asked)
    assert not disagrees("No, we open Tuesday to Saturday.", library, question=asked)
    asked = "I'll come on Monday, you're open then, right?"
    assert disagrees("You're correct! Every day except Mondays.", museum, question=asked)
    asked = "Are you open on Wednesday?"
    assert disagrees("No, we are not.", clinic, question=asked)
    assert not disagrees("Yes, from 8 am.", clinic, question=asked)
    asked = "Are you closed on Sundays?"
    assert not disagrees("Yes, we are closed at weekends.", clinic, question=asked)
    assert disagrees("No, come by on Sunday.", clinic, question=asked)
    # Without a "yes" or "no", what the answer says of the day decides.
    asked = "You're open on Mondays, aren't you?"
    assert disagrees("Oh, I know! The library is open on Mondays.", library, question=asked)
    assert not disagrees("The library is open Tuesday to Saturday.", library, question=asked)
    # Bella's persona, through the conversation: a "Yes" the days back is said, one they do not
    # is replaced by the fact.
    bella, llm = _conversation(DENTAL)
    llm.answer = "Yes, of course, we are open on Wednesdays."
    assert _said(bella, "You're open on Wednesdays, aren't you?") == llm.answer
    llm.answer = "Yes, of course, we are open on Sundays."
    assert _said(bella, "You're open on Sundays, aren't you?") == f"No. {persona_facts(DENTAL)[1]}"


def test_words_that_only_restate_a_question_a_fact_answers_are_said_at_once() -> None:
    from characters.knowledge.grounding import Grounding

    facts = persona_facts(FERRY)
    check = Grounding("What time does the ferry leave?", facts, answer=facts[1], release=True)
    assert check.add("The ferry leaves") is None
    assert check.releasable() == ["The ferry leaves"] and check.held == []
    assert check.add("at 8 am and 2 pm.") is True
    # Not for a yes/no question, nor words of its own, nor a "Yes".
    check = Grounding("Does the ferry leave at 8?", facts, answer=facts[1], release=True)
    check.add("The ferry leaves")
    assert check.releasable() == []
    check = Grounding("What time does the ferry leave?", facts, answer=facts[1], release=True)
    check.add("Sure,")
    assert check.releasable() == []
    # Nor words the fact does not hold: "The broken toys" may go on "... aren't repaired".
    check = Grounding("Who repairs broken ferries?", facts, answer=facts[1], release=True)
    check.add("The broken ferries")
    assert check.releasable() == []


def test_a_replacement_goes_on_from_the_words_already_said() -> None:
    nora, llm = _conversation(POOL)
    llm.answer = "The pool opens at 7 am."
    assert _said(nora, "When does the pool open?") == "The pool opens from 6 am to 9 pm."
    done = [e for e in nora.respond("When does the pool open?") if isinstance(e, AgentDone)][-1]
    assert done.remembered == done.text


def test_a_fact_that_answers_only_part_of_the_question_comes_after_a_hedge() -> None:
    bella, llm = _conversation(DENTAL)
    partly = load_settings().knowledge_partial_line
    llm.answer = "Dr. Patel's first name is John."
    said = _said(bella, "What is Dr. Patel's first name?")
    assert said == f"{partly} Dr. Patel and Dr. Moreau are the dentists."
    # A fact that holds all the question asks is said plainly.
    llm.answer = "The dentists are Mr. Smith and Mrs. Jones."
    assert _said(bella, "Who are the dentists?") == "Dr. Patel and Dr. Moreau are the dentists."
    bella, llm = _conversation(DENTAL, knowledge_partial_line="")
    llm.answer = "Dr. Patel's first name is John."
    assert _said(bella, "What is Dr. Patel's first name?") == persona_facts(DENTAL)[3]


def test_a_fact_only_near_the_question_comes_after_a_hedge_and_nothing_near_gets_the_line() -> None:
    """No fact answers "Which days do you take off?" outright (its best scores under
    MIN_SCORE), but the opening hours are near it: they are said after the hedge, not the
    unknown line. "Which days are you shut?" they answer outright ("shut" is a word of opening
    times), and are said plainly."""
    bella, llm = _conversation(DENTAL)
    partly = load_settings().knowledge_partial_line
    llm.answer = "We are off on Tuesdays and Thursdays."
    hours = persona_facts(DENTAL)[1]
    assert _said(bella, "Which days do you take off?") == f"{partly} {hours}"
    llm.answer = "We are shut on Tuesdays and Thursdays."
    assert _said(bella, "Which days are you shut?") == hours
    # An answer to which days it is shut must name one.
    llm.answer = "We are open from 8 am to 6 pm, Monday to Friday."
    assert _said(bella, "Which days are you shut?") == hours
    llm.answer = "Yes, whitening costs 200 dollars."
    assert _said(bella, "Do you do teeth whitening?") == LINE  # nothing near it
    bella, llm = _conversation(DENTAL, knowledge_partial_line="")
    llm.answer = "We are off on Tuesdays and Thursdays."
    assert _said(bella, "Which days do you take off?") == LINE  # no hedge to say it after


def test_with_nothing_that_answers_an_answer_must_be_all_known_and_about_the_question() -> None:
    from characters.knowledge.grounding import Grounding

    salon = [
        "Appointments cancelled less than 24 hours before are charged half the price.",
        "The salon is on Birch Road.",
        "Dr. Patel and Dr. Moreau are the dentists.",
    ]

    def verdict(question: str, answer: str, answering: str) -> bool | None:
        check = Grounding(question, salon, answer=answering)
        check.add(answer)
        return check.finish()

    # A known fact about something else is no answer; one unknown term is an invention.
    asked = "What would highlights cost me?"
    assert verdict(asked, salon[0], "") is False
    assert (
        verdict("What is Dr. Patel's first name?", "Dr. Patel's first name is John.", "") is False
    )
    assert verdict("Where is the salon?", "The salon is on Birch Road.", "") is True
    # With a sentence that answers, half the terms known is enough, as before.
    asked = "Who are the dentists here?"
    assert verdict(asked, "The dentists are Dr. Patel and Dr. Moreau, both great.", salon[2])


def test_an_answer_in_the_third_person_is_replaced() -> None:
    bella, llm = _conversation(DENTAL)
    llm.answer = "Bella says the dentists are Dr. Patel and Dr. Moreau."
    assert _said(bella, "Who are the dentists?") == "Dr. Patel and Dr. Moreau are the dentists."
    llm.answer = "I can tell you: the dentists are Dr. Patel and Dr. Moreau."
    assert _said(bella, "Who are the dentists?") == llm.answer


def test_instructions_are_not_facts_and_a_greeting_is_not_the_start_script() -> None:
    from characters.knowledge.grounding import Grounding

    pirate = persona_facts(
        "You are Hook, a pirate. Greet people with arr. Tell tall tales. Mention your parrot "
        "Polly often."
    )
    assert not any(map(is_fact, pirate))
    assert is_fact("Only adults may use the sauna.")
    check = Grounding("Where are the trails?", ["Trails start behind the lodge."], opening="Hi!")
    assert check.add("Hiking trails start behind the lodge.") is True
    check = Grounding(
        "What does it cost?", ["It costs 5 dollars."], opening="Hi there, Tomas here."
    )
    assert check.add("Hi there, Tomas here.") is False
    # A denial is never said before its verdict.
    check = Grounding("When does the museum open?", ["It opens at 9."], answer="x", release=True)
    check.add("The museum does not open")
    assert check.releasable() == []


MUSEUM = (
    "You are Milo, a guide at the Harbor Maritime Museum. The museum is open Monday to Friday "
    "from 10 am to 7 pm and on Saturdays from 9 am to 1 pm; it is closed on Sundays. Guided "
    "tours start at 11 am and 2 pm and last 45 minutes. Members can borrow up to 4 books at a "
    "time, for 3 weeks. Membership costs 20 dollars a year. The curator is Ms. Alvarez."
)


def test_an_answer_must_give_the_whole_figure_it_was_asked_for() -> None:
    """A list of times is given whole, a time for other days than the question's is not the
    answer, and a yes/no answer says the fact's figure or limit: otherwise the fact is said."""
    from characters.knowledge.grounding import listed_times
    from characters.knowledge.weekdays import figure_days

    facts = persona_facts(MUSEUM)
    hours, tours, membership = facts[1], facts[2], facts[4]
    assert listed_times("What time do the tours start?", tours) == [{"11", "2"}]
    assert listed_times("What time is the last tour?", tours) == []  # one of them
    assert figure_days(hours) == {
        "10": {0, 1, 2, 3, 4},
        "7": {0, 1, 2, 3, 4},
        "9": {5},
        "1": {5},
    }
    assert figure_days("Open until 8 pm on Thursdays, from 9 am Tuesday to Saturday.") == {
        "8": {3},
        "9": {1, 2, 3, 4, 5},
    }
    # A day's own closing time is not also the range's: 6 pm is not Saturday's, 9 am is.
    assert figure_days(
        "Open Wednesday to Monday from 9 am to 6 pm, and until 8 pm on Saturdays."
    ) == {
        "9": {0, 2, 3, 4, 5, 6},
        "6": {0, 2, 3, 4, 6},
        "8": {5},
    }
    milo, llm = _conversation(MUSEUM)
    for question, answer, said in (
        ("What time do the guided tours start?", "At 11 am.", tours),
        ("What time do the guided tours start?", "At 11 am and 2 pm.", "At 11 am and 2 pm."),
        ("What time is the last guided tour?", "The last one starts at 2 pm.", None),
        ("What time do you close on weekdays?", "We close at 1 pm.", hours),
        ("What time do you close on weekdays?", "We close at 7 pm.", None),
        # The day named before the question.
        (
            "I'm coming on Saturday. How late are you open?",
            "We're open until 7 pm.",
            "We're open " + hours.split(" is open ", 1)[1],  # the released words, then the fact
        ),
        (
            "Membership is free, isn't it?",
            "Well, membership is free for our members.",
            f"No. {membership}",  # the fact gives a price
        ),
        ("Membership is 20 dollars a year, right?", "Yes, it costs 20 dollars a year.", None),
        ("Membership is 20 dollars a year, right?", "Yes, that's right.", membership),
    ):
        llm.answer = answer
        assert _said(milo, question) == (said or answer), question


def test_a_number_must_be_said_of_what_the_persona_says_it_of() -> None:
    from characters.knowledge.grounding import Grounding

    milo, llm = _conversation(MUSEUM)
    books = persona_facts(MUSEUM)[3]
    # 4 is the books, 3 the weeks: "4 weeks" pairs a known number with another known unit.
    llm.answer = "You can keep them for up to 4 weeks."
    assert _said(milo, "How long can I keep the books?") == books
    llm.answer = "You can keep them for up to 3 weeks."
    assert _said(milo, "How long can I keep the books?") == llm.answer
    # A number said of what the question names, that the text holding it does not name.
    shop = [
        "Spare parts: replacement burr sets cost 49 dollars.",
        "The grounds bin is under the burrs.",
        "Descaling tablets cost 12 dollars a pack.",
    ]

    def verdict(question: str, answer: str) -> bool | None:
        check = Grounding(question, shop, answer="")
        check.add(answer)
        return check.finish()

    asked = "How much does a replacement grounds bin cost?"
    assert verdict(asked, "A replacement grounds bin costs 49 dollars.") is False
    assert verdict("How much is a replacement burr set?", "Burr sets cost 49 dollars.") is True
    # An invented name is as much an invention as an invented number.
    llm.answer = "The museum curator is Ms. Alvarez Jenkins."
    assert _said(milo, "Who is the curator?") == persona_facts(MUSEUM)[5]


def test_with_nothing_that_answers_a_yes_no_question_neither_yes_nor_no_is_said() -> None:
    bella, llm = _conversation(DENTAL)
    for answer in ("No, we don't offer a loyalty card.", "There is a loyalty card for families."):
        llm.answer = answer
        assert _said(bella, "Is there a loyalty card for patients?") == LINE, answer


def test_the_nearest_fact_comes_after_a_hedge_even_when_the_question_is_declined() -> None:
    """Asked "Is there a hot tub?", which shares no word with the pool's persona and which
    no fact scores NEAR_SCORE for, the model is not asked; but the sauna scores over
    HEDGE_SCORE: it is said after the partial line, not the unknown line."""
    from characters.conversation.persona import HEDGE_SCORE, NEAR_SCORE

    nora, llm = _conversation(POOL)
    sauna = persona_facts(POOL)[3]
    question = "Is there a hot tub?"
    facts = nora.persona_facts()
    assert facts.answering(question, min_score=NEAR_SCORE) == []
    assert facts.answering(question, min_score=HEDGE_SCORE) == [sauna]
    llm.answer = "Yes, there is a hot tub by the pool."
    partly = load_settings().knowledge_partial_line
    assert _said(nora, question) == f"{partly} {sauna}"
    assert llm.asked == []


def test_people_lists_limits_and_labels() -> None:
    """A question for people gets every name of the list that answers it; "under" and "over"
    are limits a "Yes" may not pass over; an answer that opens with the character's name as a
    label ("Daphne: No, ...") is not in its voice; a time of other days than a yes/no question
    names is against it."""
    from characters.knowledge.grounding import Grounding, listed_names

    facts = persona_facts(MUSEUM)
    hours = facts[1]
    assert listed_names("Who are the guides?", "The guides are Yuki, Tariq and Beth.") == [
        {"yuki", "tariq", "beth"}
    ]
    assert listed_names("When do the guides start?", "The guides are Yuki and Beth.") == []
    guides = "The guides are Yuki, Tariq and Beth."

    def verdict(question: str, answer: str, fact: str, known: list[str]) -> bool | None:
        check = Grounding(question, known, answer=fact, name="Milo")
        check.add(answer)
        return check.finish()

    assert verdict("Who are the guides?", "Tariq is our guide.", guides, [guides]) is False
    assert verdict("Who are the guides?", "Yuki, Tariq and Beth.", guides, [guides]) is True
    assert verdict("Who are the guides?", "The guides work here.", guides, [guides]) is False
    passes = "A day pass costs 16 dollars for adults and 11 dollars for children under 14."
    asked = "A day pass for my 12-year-old is 16 dollars too, isn't it?"
    assert verdict(asked, "Yes, a day pass costs 16 dollars.", passes, [passes]) is False
    asked = "Ticket prices are the same every day, right?"
    assert verdict(asked, "Milo: Yes, 16 dollars for adults.", passes, [passes]) is False
    asked = "You're open till 7 on Saturdays too, right?"
    assert verdict(asked, "Sure, from 10 am to 7 pm on Saturdays.", hours, facts) is False
    assert verdict(asked, "On Saturdays we close at 1 pm.", hours, facts) is True


DRIVING = (
    "You are Felix, at the desk of Northway Driving School. The school is open Monday to Friday "
    "from 8 am to 6 pm. A driving lesson lasts 1 hour and costs 45 dollars, and a block of 10 "
    "lessons costs 400 dollars. The instructors are "
    "Carla, Dev and Sam. Lessons are in manual cars. Joining the learner club costs 20 dollars "
    "a year. A theory pack costs 12 dollars for members and 18 dollars for everyone else."
)


def test_a_figure_the_question_claims_is_read_against_the_fact() -> None:
    """A yes/no question that states a figure: the fact giving another of its kind says no; the
    fact giving it among others (for other people) does not say yes; a number the question
    compares or counts is no claim."""
    from characters.knowledge.grounding import claim_differs

    club = "Joining the learner club costs 20 dollars a year."
    pack = "A theory pack costs 12 dollars for members and 18 dollars for everyone else."
    assert claim_differs("The club is free, isn't it?", club) == "wrong"
    assert claim_differs("The club is 25 dollars, right?", club) == "wrong"
    assert claim_differs("The club is 20 dollars, right?", club) == ""
    assert claim_differs("I'm not a member, so the pack is 12 dollars for me, right?", pack) == (
        "unsure"
    )
    assert claim_differs("Can I get the pack for under 15 dollars?", pack) == ""
    assert claim_differs("There are 3 of us, can we share a lesson?", club) == ""
    assert claim_differs("What does the club cost?", club) == ""  # not yes/no
    felix, llm = _conversation(DRIVING)
    facts = persona_facts(DRIVING)
    llm.answer = "Yes, the club is free for learners."
    assert _said(felix, "Joining the learner club is free, isn't it?") == f"No. {facts[5]}"
    # The claimed number alone, where the fact gives it for other people too: the whole fact.
    llm.answer = "The theory pack is 12 dollars for you."
    said = _said(felix, "I'm not a member, so the theory pack is 12 dollars for me too, right?")
    assert said.endswith(facts[6]), said
    llm.answer = "Yes, the theory pack costs 12 dollars for members and 18 dollars for others."
    said = _said(felix, "A theory pack for a non-member is 12 dollars too, isn't it?")
    assert said.endswith(facts[6]), said
    assert not said.startswith("Yes"), said


def test_who_questions_find_the_people_and_price_questions_need_a_price() -> None:
    """A question that asks who is answered by the sentence naming people, even where the
    embeddings rank another higher; with none that names people, it gets the unknown line,
    not a hedge before the opening hours. A question for a price is not answered by a sentence
    without one."""
    from characters.knowledge.grounding import asked_measure, asks_for_people, names_people

    assert asks_for_people("Who would be teaching me to drive?")
    assert asks_for_people("Which vets work at the practice?")
    assert not asks_for_people("Who can join the club?")
    assert not asks_for_people("Which days are you open?")
    assert names_people("The vets are Dr. Lindqvist and Dr. Abara.")
    assert not names_people("It is closed on Sundays and Mondays.")
    felix, llm = _conversation(DRIVING)
    facts = persona_facts(DRIVING)
    assert felix.persona_facts().answering("Who would be teaching me to drive?") == [facts[3]]
    nora, llm = _conversation(POOL)
    llm.answer = "I own the pool."
    assert _said(nora, "Who owns the pool?") == LINE
    price = asked_measure("How much does a driving test cost?")
    assert price is not None and not price.search("Lessons are in manual cars.")
    assert price.search("It costs $45.") and price.search("The pack is free for members.")
    assert asked_measure("How much notice do you need?") is None
    llm.answer = "A driving test costs 60 dollars."
    said = _said(felix, "How much does the driving test cost?")
    assert "60" not in said and "manual" not in said, said


BOWLING = (
    "You are Dana, at the desk of Strike Lanes bowling alley. Strike Lanes is open from noon to "
    "11 pm every day except Tuesday, when it is closed. A game costs 9 dollars for adults and 6 "
    "dollars for children under 14. A season pass costs 120 dollars a year, and pass holders "
    "join free. Shoe hire costs 3 dollars. Kids' parties are hosted by Kelsey and Omar. "
    "Children must be at least 5 years old to bowl. Shuttle buses leave the station at 5 pm, "
    "7 pm and 9 pm."
)


def test_a_price_for_a_group_the_question_names_is_that_groups_price() -> None:
    """The group a question asks a price for (students, children, a child of some age, adults)
    is read, and so are the prices facts give groups; an answer that gives another group's
    price is replaced by the sentence that gives this group's."""
    from characters.knowledge.groups import asked_group, group_price, group_prices

    assert asked_group("I'm a student. What would a three-hour visit cost me?") is not None
    assert asked_group("How much is it for my 12-year-old?") == asked_group(
        "My nephew's 12, how much?"
    )
    assert asked_group("Who runs the kids' parties?") is None  # not about a price
    assert asked_group("What does it cost to join as a member?") is None  # joining's price
    observatory = (
        "A ticket costs 14 dollars for adults, 9 dollars for students and 8 dollars for "
        "children from 5 to 15."
    )
    assert [(p.group, set(p.prices)) for p in group_prices(observatory)] == [
        ("adult", {"14"}),
        ("student", {"9"}),
        ("child", {"8"}),
    ]
    baths = ["A 3-hour ticket costs 19 dollars.", "Students pay 15 dollars for a 3-hour ticket."]
    assert group_price("I'm a student. What does a 3-hour ticket cost?", baths) == (
        baths[1],
        frozenset({"15"}),
    )
    game = "A game costs 9 dollars for adults and 6 dollars for children under 14."
    assert group_price("How much is a game for my 10-year-old?", [game]) == (game, {"6"})
    assert group_price("How much is a game for my 15-year-old?", [game]) == (game, {"9"})
    assert group_price("How much is a game?", [game]) is None  # no group named
    dana, llm = _conversation(BOWLING)
    facts = persona_facts(BOWLING)
    llm.answer = "A game costs 6 dollars."
    said = _said(dana, "What would a game cost me as a grown-up?")
    assert "9" in said and said.endswith(facts[2]), said
    llm.answer = "A game costs 6 dollars for children under 14."
    assert _said(dana, "How much is a game for my daughter? She's 8.") == llm.answer
    # A group priced apart pays less: "No" is against it, whatever follows.
    llm.answer = "No, we don't. A game costs 9 dollars, or 6 dollars for children under 14."
    said = _said(dana, "I'm bringing my kids, do they get it any cheaper?")
    assert not said.startswith("No") and said.endswith(facts[2]), said


def test_first_and_last_times_two_measures_and_when_a_place_closes() -> None:
    """A question for the last bus needs the last time of a list, "How much ..., and how
    long ...?" both figures, "When do you close?" a time (not days)."""
    from characters.knowledge.grounding import (
        _MEASURES,
        asked_measure,
        asked_measures,
        clock_times,
        extreme_times,
    )

    assert clock_times("at 9:15 am and 8 pm") == [9 * 60 + 15, 20 * 60]
    buses = ["Shuttle buses leave the station at 5 pm, 7 pm and 9 pm."]
    assert extreme_times("When does the last bus leave?", buses) == {21 * 60}
    assert extreme_times("What time is the first bus?", buses) == {17 * 60}
    assert extreme_times("What time do the buses leave?", buses) == set()
    assert asked_measures("How much is a pass, and how long is it valid?") == [
        _MEASURES["long"],
        _MEASURES["price"],
    ]
    assert asked_measure("And when do you close that day?") is _MEASURES["time"]
    assert asked_measure("When are you closed?") is _MEASURES["when"]
    dana, llm = _conversation(BOWLING)
    facts = persona_facts(BOWLING)
    llm.answer = "The last bus leaves at 7 pm."
    said = _said(dana, "When does the last shuttle bus leave the station?")
    assert said.endswith(facts[7]), said
    llm.answer = "The last bus leaves at 9 pm."
    assert _said(dana, "When does the last shuttle bus leave the station?") == llm.answer
    llm.answer = "A season pass lasts a year."
    assert "120" in _said(dana, "How much is a season pass, and how long does it last?")
    llm.answer = "We're closed on Tuesdays."
    assert "11 pm" in _said(dana, "When do you close on Saturdays?")
    # A "No" is no answer to a question for a thing; to "What about ...?" it may be.
    llm.answer = "No, Kelsey and Omar host them."
    said = _said(dana, "Who hosts the kids' parties?")
    assert said == facts[5], said
    llm.answer = "No, we're closed on Tuesdays."
    assert _said(dana, "What about Tuesday, can I bowl then?") == llm.answer


def test_a_figure_in_a_unit_finds_the_fact_that_measures_in_it() -> None:
    """A question that gives a figure in some unit ("my son is six years old") is nearer the
    facts that measure in that unit; a count said in words is a claim ("eight weeks")."""
    from characters.knowledge.grounding import claim_differs, measured_units

    assert measured_units("My puppy's eight weeks old, can she come?") == {"week"}
    assert measured_units("There'll be 10 of us.") == set()
    age = "Puppies must be at least 12 weeks old."
    assert claim_differs("My puppy's eight weeks old, she can come, can't she?", age) == "wrong"
    dana, llm = _conversation(BOWLING)
    facts = persona_facts(BOWLING)
    found = dana.persona_facts().answering("My son is four years old, he can bowl, can't he?")
    assert found == [facts[6]], found


def test_words_that_break_character_are_not_said() -> None:
    """Small talk is not checked against facts, but an answer that speaks as an AI, asks to
    clarify a greeting or names the character in the third person is stopped; the
    in-character line is said when nothing (or a word or two) was said before."""
    from characters.conversation.in_character import InCharacter

    check = InCharacter("Bella")
    assert check.breaks("Sorry, but as an AI language model, I don't have feelings.")
    assert check.breaks("I'm not sure what you mean by 'morning Bella!'.")
    assert check.breaks("Bella has a lovely view from the window.")
    assert not check.breaks("Good morning! Lovely to hear from you.")
    line = load_settings().in_character_line
    bella, llm = _conversation(DENTAL)
    llm.answer = "As an AI language model, I don't have personal experiences."
    assert _said(bella, "Hi Bella! What a lovely day!") == line
    llm.answer = "Good morning! It's a lovely day here in Springfield."
    assert _said(bella, "Good morning Bella! What a lovely day!") == llm.answer
    bella, llm = _conversation(DENTAL, in_character_line="")
    llm.answer = "As an AI language model, I don't have personal experiences."
    assert _said(bella, "Hi Bella! What a lovely day!") == llm.answer


VETS = (
    "You are Tessa, the receptionist at Oakfield Vets. A yearly vaccination booster costs 62 "
    "dollars for a dog and 55 dollars for a cat. Neutering a cat costs 120 dollars. The vets are "
    "Dr. Lindqvist and Dr. Abara. Nail clipping is free for registered pets. The clinic is open "
    "Monday to Friday from 8 am to 7 pm."
)


def test_a_fact_that_surely_answers_is_said_without_the_hedge() -> None:
    """A replacement that lacks a word of the question is said plainly when it scores
    SURE_SCORE and no other fact holds the word ("jab", "practice"); a word another fact holds
    ("dog", beside the dogs' booster) keeps the hedge."""
    tessa, llm = _conversation(VETS)
    partly = load_settings().knowledge_partial_line
    booster, neutering, vets = persona_facts(VETS)[1:4]
    llm.answer = "A cat's jab is 40 dollars."
    assert _said(tessa, "How much is my cat's yearly jab?") == booster
    llm.answer = "The vets are Dr. Smith and Dr. Jones."
    assert _said(tessa, "Which vets work at the practice?") == vets
    llm.answer = "Neutering a dog costs 150 dollars."
    assert _said(tessa, "What does it cost to have a dog neutered?") == f"{partly} {neutering}"


def test_a_price_said_for_a_period_must_be_that_periods_price() -> None:
    from characters.knowledge.grounding import Grounding, is_yes_no, priced_per

    known = [
        "A rowing boat costs 20 dollars an hour, and a pedalo 25 dollars an hour.",
        "A half-day hire of 4 hours costs 60 dollars.",
    ]
    assert priced_per(known[0]) == {("20", "hour"), ("25", "hour")}
    assert priced_per("For an hour, it's $60.") == {("60", "hour")}

    def verdict(answer: str) -> bool | None:
        check = Grounding("What does a boat cost for an hour?", known, answer=known[0])
        check.add(answer)
        return check.finish()

    assert verdict("For an hour, a half-day hire costs 60 dollars.") is False
    assert verdict("A rowing boat costs 20 dollars an hour.") is True
    # A question after a condition is still a yes/no question.
    assert is_yes_no("If I cancel the day before, do I get anything back?")
    assert not is_yes_no("If I cancel the day before, what happens?")


def test_a_yes_about_what_nothing_known_names_is_not_grounded() -> None:
    from characters.knowledge.grounding import Grounding

    known = ["The K7 grinds coffee beans by time.", "A reset clears the saved presets."]

    def verdict(question: str, answer: str) -> bool | None:
        check = Grounding(question, known, answer=known[0])
        check.add(answer)
        return check.finish()

    assert verdict("Can I grind spices in the K7?", "Yes, you can grind spices in it.") is False
    assert verdict("Can I grind spices in the K7?", "You can grind spices in it.") is False
    assert verdict("Does the K7 grind coffee beans by time?", "Yes, it grinds by time.") is True


def test_an_age_under_the_lowest_age_a_fact_sets_gets_a_no() -> None:
    from characters.knowledge.groups import too_young

    kayaks = (
        "Kayaks are only for people aged 14 and over, and children under 12 must be with an adult."
    )
    assert too_young("My daughter's eleven, so she can take a kayak out, can't she?", kayaks)
    assert not too_young("My son's fifteen, he can take a kayak out, can't he?", kayaks)
    assert too_young(
        "My son turns 16 next month, he can start then?", "Learners must be at least 17."
    )
    assert too_young(
        "My 6-year-old can join, can't she?", "Children under 8 cannot join the classes."
    )
    assert not too_young("My 12-year-old can come?", "A party is for at least 8 children.")
    assert not too_young("My 3-year-old needs a ticket?", "Tickets cost 14 dollars for adults.")
    nora, llm = _conversation(POOL)
    llm.answer = "Yes, of course he can."
    sauna = persona_facts(POOL)[3]
    assert _said(nora, "My ten-year-old can use the sauna, right?") == f"No. {sauna}"


LIBRARY = (
    "You are Walter, the librarian of the Cedar Falls Public Library. Card holders can borrow "
    "up to 12 items at a time: books for 3 weeks and DVDs for 1 week. Overdue items cost 20 "
    "cents a day each. Printing costs 15 cents a page. Story hour is every Thursday at 4 pm."
)


def test_a_price_a_leading_question_claims_is_answered_by_a_price() -> None:
    """ "Late books are a dollar a day, right?" claims a price: the sentence that answers it
    states one ("Overdue items cost 20 cents a day each."), though the loan limits hold more
    of its words ("books", "day" and "late" as a time)."""
    from characters.knowledge.grounding import claimed_measure

    claimed = claimed_measure("Late books are a dollar a day, right?")
    assert claimed is not None and claimed.search("It costs 20 cents.")
    assert claimed.search("Late cancellations are charged half the price.")  # a price too
    assert claimed_measure("Membership is free, isn't it?") is not None
    assert claimed_measure("How many books can I borrow?") is None
    assert claimed_measure("Books cost a dollar a day.") is None  # not a question
    walter, llm = _conversation(LIBRARY)
    llm.answer = "That's correct! Late books are a dollar per day."
    said = _said(walter, "Late books are a dollar a day, right?")
    assert "20 cents" in said and "borrow" not in said, said


def test_what_a_fact_lists_as_included_or_not_is_a_yes_or_a_no() -> None:
    """A fact that lists what is included and then what is not answers a yes/no question
    about something it lists with a "Yes." or a "No." before it, not after the hedge; a
    question asked after a comma ("..., is that something ...?") is a yes/no question."""
    from characters.knowledge.grounding import is_yes_no, listed_verdict

    treats = (
        "The clinic treats cats, dogs, rabbits and guinea pigs, but not horses, farm animals or "
        "reptiles."
    )
    guinea_pig = "My kids have a guinea pig, is that something your vets will look at?"
    assert is_yes_no(guinea_pig)
    assert not is_yes_no("Saturday works, can you tell me what time you open?")
    assert listed_verdict(guinea_pig, treats) == "yes"
    assert listed_verdict("Do you see horses?", treats) == "no"
    assert listed_verdict("Can I bring my lizard in?", treats) == ""  # it lists no lizards
    assert listed_verdict("Which animals do you treat?", treats) == ""  # not a yes/no question
    assert listed_verdict("Do you see rabbits?", "The vets see cats, dogs and rabbits.") == ""
    tessa, llm = _conversation(f"{VETS} {treats}")
    llm.answer = "No, guinea pigs are not considered pets by the clinic."
    assert _said(tessa, guinea_pig) == f"Yes. {treats}"


def test_a_membership_is_what_a_member_asks_about() -> None:
    """Derived forms are their word ("membership" is "member"): "What does it cost to join the
    studio as a member?" is answered by the membership's price, not by the course that is
    cheaper for members."""
    from characters.knowledge.keywords import terms

    assert terms("studio membership, from my workplace") == ["studio", "member", "work"]
    studio = (
        "You are Oskar, at Riverside Pottery Studio. A 6-week evening course meets on Wednesdays "
        "at 7 pm and costs 210 dollars, or 180 dollars for studio members. Studio membership "
        "costs 55 dollars a month. The studio is closed on Mondays."
    )
    said = _said_when(studio, "Joining costs 30 dollars.", "What does it cost to join as a member?")
    assert "55 dollars" in said and "210" not in said, said


def test_a_last_sentence_that_names_nothing_leaves_the_whole_question() -> None:
    """The share of a question's words a fact holds is taken from its last sentence ("I live in
    the next town. What would a card cost me?"), but not when that sentence names nothing:
    "... we'll take one of your motor boats. You've got those, haven't you?" is about motor
    boats, which one fact holds, not about nothing, which every fact would hold whole."""
    from characters.conversation.facts import held_shares

    facts = [
        "Rowing boats and pedalos take up to 4 people each.",
        "Heron Reach has no motor boats, and swimming from the boats is not allowed.",
    ]
    story = "My dad's shoulder is bad, so a motor boat for us. You've got those, haven't you?"
    rowing, motor = held_shares(facts, story)
    assert motor > rowing and rowing < 1.0, (rowing, motor)
    assert held_shares(facts, "I live nearby. And the pedalos?")[0] == 1.0  # not "nearby"


def test_a_question_for_a_make_nothing_known_names_is_not_answered() -> None:
    """ "What make of car would I be learning in?" to a persona that names no make: the model
    is not asked (it said "Automatic cars."), the character says it does not know, or the
    nearest fact after the partial line."""
    felix, llm = _conversation(DRIVING)
    llm.answer = "Automatic cars."
    said = _said(felix, "What make of car would I be learning in?")
    assert said == LINE or said.startswith(load_settings().knowledge_partial_line), said
    assert not llm.asked
    llm.answer = "The instructors are Carla, Dev and Sam."
    assert _said(felix, "Which instructors work at the school?") == llm.answer


def test_a_price_question_is_not_surely_answered_by_another_things_price() -> None:
    """ "How much are the cinnamon buns?" and "It serves fish soup for 11 dollars, cinnamon buns
    and hot drinks.": the 11 dollars are the soup's; the sentence is said after the partial
    line, not as the answer."""
    from characters.knowledge.grounding import prices_another

    galley = "It serves fish soup for 11 dollars, cinnamon buns and hot drinks."
    assert prices_another("How much are the cinnamon buns in the Gull's Galley?", galley)
    assert not prices_another("How much is the fish soup?", galley)
    assert not prices_another("Do you serve cinnamon buns?", galley)  # no price asked
    taster = (
        "A 2-hour taster class on the pottery wheel costs 42 dollars for adults and 28 dollars "
        "for children aged 8 to 15; children under 8 cannot join the classes."
    )
    assert not prices_another("How much is a taster class on the wheel?", taster)
    from characters.conversation.persona import answers_surely

    before = f"The Gull's Galley is the cafe on board. {galley}"
    asked = "How much are the cinnamon buns in the Gull's Galley?"
    assert not answers_surely(asked, galley, 0.9, context=before, others=[])
    assert answers_surely("How much is the fish soup?", galley, 0.9, context=before, others=[])
    ferry = (
        "You are Tova, at the ticket office of Halvard Ferries. The Gull's Galley is the café "
        "on board. It serves fish soup for 11 dollars, cinnamon buns and hot drinks. Dogs "
        "travel free. The ticket office opens 45 minutes before the first sailing."
    )
    said = _said_when(ferry, "The cinnamon buns are 1.30 dollars.", asked)
    assert said == LINE or said.startswith(load_settings().knowledge_partial_line), said


def test_a_day_that_is_open_does_not_hide_what_the_question_turns_on() -> None:
    """ "I'll pop in for a perm on Friday without booking, that's fine, isn't it?": Friday is
    open, so the opening days are not the answer; the sentence about the perm, which scores
    far more, is. A closed day still gets "No." and
    the days."""
    from characters.conversation.persona import PersonaFacts

    salon = (
        "You are Wren, at the desk of Shear Bliss on Mill Lane. The salon is open Monday to "
        "Friday from 10 am to 7 pm and closed at weekends. A perm costs 90 dollars and takes "
        "3 hours, so it must be booked a week ahead. The stylists are Ola and Tam."
    )
    facts = PersonaFacts(persona_facts(salon), load_settings().resolved_models_dir)
    asked = "I'll pop in for a perm on Friday without booking, that's fine, isn't it?"
    perm = persona_facts(salon)[2]
    assert facts.answering(asked, min_score=0.38) == [perm]
    said = _said_when(salon, "Of course, see you Friday!", asked)
    assert said.endswith(first_person(perm)) and "Monday" not in said, said
    said = _said_when(salon, "Of course, see you Saturday!", asked.replace("Friday", "Saturday"))
    assert said == f"No. {first_person(persona_facts(salon)[1])}", said
