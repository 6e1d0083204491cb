"""The persona's facts next to the question: sentence splitting and lexical retrieval."""

from __future__ import annotations

from characters.conversation.facts import persona_facts, relevant_facts

DENTAL = (
    "You are Bella, the friendly receptionist of Sunny Dental in Springfield. The clinic is "
    "open from 8 am to 6 pm, Monday to Friday, and closed at weekends. A check-up costs 60 "
    "dollars and a cleaning 90 dollars. Dr. Patel and Dr. Moreau are the dentists. Parking is "
    "free behind the building."
)
MUSEUM = (
    "You are Milo, a guide at the Harbor Maritime Museum. The museum is open every day from "
    "10 a.m. to 5 p.m., except Mondays. The star of the collection is the steamship Aurora. "
    "Lost pieces are replaced for 2 dollars each. The museum shop sells books."
)


def test_a_personality_splits_into_sentences_not_after_titles_or_am() -> None:
    facts = persona_facts(DENTAL)
    assert len(facts) == 5
    assert facts[3] == "Dr. Patel and Dr. Moreau are the dentists."
    assert persona_facts(MUSEUM)[1].endswith("except Mondays.")
    assert persona_facts(None) == [] == persona_facts("  ")


def test_a_question_finds_its_fact_through_shared_words_and_topics() -> None:
    facts = persona_facts(DENTAL)
    assert relevant_facts(facts, "Can I come in on Saturday morning?") == [facts[1]]
    assert relevant_facts(facts, "How much is a cleaning?") == [facts[2]]
    assert relevant_facts(facts, "Who are the dentists?") == [facts[3]]
    groups = [*facts, "Groups of 8 or more must book at least 3 days ahead."]
    assert relevant_facts(groups, "How much notice do you need?", limit=1) == [groups[-1]]
    kids = [*facts, "Children under 5 get a free check-up.", "A party is for at least 8 children."]
    assert relevant_facts(kids, "Is there a minimum number of kids?", limit=1) == [kids[-1]]


def test_rare_words_weigh_more_than_words_every_fact_shares() -> None:
    facts = persona_facts(MUSEUM)
    assert relevant_facts(facts, "Which ship is the star of the museum?", limit=1) == [facts[2]]
    assert relevant_facts(facts, "How much is a lost piece?", limit=1) == [facts[3]]


def test_a_follow_up_finds_its_fact_through_the_previous_question() -> None:
    facts = persona_facts(DENTAL)
    assert relevant_facts(facts, "Is it free?", context="Do you have parking?") == [facts[4]]


def test_an_off_topic_question_gets_no_facts_and_the_limit_holds() -> None:
    facts = persona_facts(DENTAL)
    assert relevant_facts(facts, "Do you do teeth whitening?") == []
    assert relevant_facts([], "When are you open?") == []
    assert len(relevant_facts(facts, "When are you open and how much is it?", limit=1)) == 1


def test_a_conversation_adds_the_facts_of_the_question_and_of_the_turn_before() -> None:
    from types import SimpleNamespace
    from typing import Any, cast

    from characters.config import Settings
    from characters.conversation.engine import Conversation
    from characters.conversation.prompt import Character

    engines = cast(Any, SimpleNamespace(settings=Settings(llm_facts="rules")))  # no model needed
    bella = Conversation(engines, Character("Bella", personality=DENTAL))
    assert bella.facts_for("Do you do teeth whitening?") == []
    bella.remember("Do you have parking?", "Yes, behind the building.")
    assert bella.facts_for("Is it free?") == [persona_facts(DENTAL)[4]]
    assert Conversation(engines, Character("Max")).facts_for("Hi?") is None
    off = cast(Any, SimpleNamespace(settings=Settings(llm_facts="off")))
    assert Conversation(off, Character("Bella", personality=DENTAL)).facts_for("Hi?") is None


def test_what_a_question_is_about_leaves_out_how_it_is_said() -> None:
    from characters.conversation.facts import _asked, _stem, coverage, modifiers_unheld, unheld

    # fillers, a pronoun with its verb, and "day of the week" (a day, not a week)
    asked = _asked("Lovely. Roughly what's the cost, and which day of the week are you shut?")
    assert asked == ["cost", "day", "shut"]
    assert _stem("cancelled") == _stem("cancel") == "cancel"
    assert _stem("spelled") == "spell"  # a word that ends in "ll" keeps it
    hours = "The shop is open Monday to Friday; it is closed on Sundays."
    assert coverage([hours], "When do you shut on Fridays?") == 1.0  # "shut" is a word of hours
    staff = "The stylists are Lena, Marco and Priya."
    assert coverage([staff], "Which hairdressers work at the salon?") < 1.0  # "salon"
    assert unheld(staff, "Which hairdressers work here?") == []  # hairdressers are staff
    # What the source lacks; with others, only what one of them holds.
    jab = "A yearly vaccination booster costs 62 dollars for a dog and 55 dollars for a cat."
    assert unheld(jab, "How much is my cat's yearly jab?") == ["jab"]
    assert unheld(jab, "How much is my cat's yearly jab?", ["Nail clipping is free."]) == []
    cat = "Neutering a cat costs 120 dollars."
    assert unheld(cat, "What does it cost to have a dog neutered?", [jab]) == ["dog"]
    # A missing word right before a word the source holds may set the thing apart.
    leave = "Full-time staff get 27 days of paid leave a year."
    assert modifiers_unheld(leave, "I'm part-time. How many days of leave do I get?") == ["part"]
    days = "The makerspace is open from Wednesday to Sunday."
    assert modifiers_unheld(days, "Is it open on public holidays?") == ["public"]
    assert modifiers_unheld(jab, "How much is my cat's yearly jab?") == []
    # Cancelling a booking is about refunds.
    refunds = "Bookings cannot be refunded, but they can be moved to another date."
    assert unheld(refunds, "If we have to cancel, do we get a refund?") == []


def test_parking_is_a_thing_not_any_place() -> None:
    """ "parking" is not held by a sentence about where the place is ("... on the lower ground
    floor ..."): the place topic holds the words that ask where, not the things there."""
    from characters.conversation.facts import unheld

    floor = "The makerspace is on the lower ground floor of Marrowby Public Library."
    assert "parking" in unheld(floor, "Is there parking near the library?")
    assert not unheld("Parking is free behind the building.", "Is there parking?")


def test_cash_and_cards_are_held_by_their_own_words_only() -> None:
    """A word of a topic that names a thing ("cash", "cards", "tickets") is held by its own
    word, not by any sentence of its topic: "Do they take cash at the ticket office?" is not
    answered by where tickets are booked, and "I'll bring cash for the boat" is about "Payment
    is by card only; we do not take cash.", not about the boat's deposit."""
    from characters.conversation.facts import held_shares, unheld

    office = "Tickets can be booked online or at the ticket office in Terminal A."
    assert "cash" in unheld(office, "Do they take cash at the ticket office?")
    assert not unheld(office, "How much is a ticket at the office?")  # "much": a price asked
    deposit = "Every boat needs a 50-dollar deposit, returned when the boat comes back."
    payment = "Payment is by card only; Heron Reach does not take cash."
    shares = held_shares([deposit, payment], "I'll bring cash. That's fine, isn't it?")
    assert shares[1] > shares[0], shares


def test_which_one_of_a_thing_nothing_known_names_cannot_be_answered() -> None:
    """ "What make of car would I be learning in?" asks which make; when nothing known names
    a make, no answer can (the model said "Automatic cars."): the question is declined."""
    from characters.conversation.facts import unknown_thing

    known = [
        "Lessons are in manual cars; lessons in an automatic cost 5 dollars more.",
        "The instructors are Carla, Dev and Sam.",
        "The office is open Monday to Friday from 9 am to 5 pm.",
    ]
    assert unknown_thing(known, "What make of car would I be learning in?") == "make"
    assert unknown_thing(known, "Which colours do the cars come in?") == "colours"
    assert unknown_thing(known, "Which instructors are there?") is None  # named
    assert unknown_thing(known, "What time do you open on Fridays?") is None  # a time topic
    assert unknown_thing(known, "What kind of car is it?") is None  # "car" is known
    assert unknown_thing(known, "What would I pay for ten lessons?") is None
    assert unknown_thing(known, "Do you teach in a Toyota?") is None  # not a what/which one
