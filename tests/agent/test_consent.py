"""The recording-consent state machine (agent/consent.py), in every supported language."""

import pytest

from agent.clinic_config import SUPPORTED_LANGUAGES
from agent.consent import PHRASES, ConsentFlow, Decision, Reply, State, classify

# language -> (clear yes, clear no, unclear)
REPLIES = {
    "en-US": ("Yeah, that's fine.", "No, please don't record.", "Hmm, what is this about?"),
    "en-GB": ("Yes, go on.", "I'd rather not.", "Sorry, who is this?"),
    "es-ES": ("Sí, claro.", "No, prefiero que no.", "¿Cómo dice?"),
    "fr-FR": ("Oui, bien sûr.", "Non, je refuse.", "Pardon ? Qui est à l'appareil ?"),
    "de-DE": ("Ja, gerne.", "Nein, lieber nicht.", "Wie bitte?"),
}


def test_every_supported_language_has_phrases_and_replies():
    assert set(PHRASES) == set(SUPPORTED_LANGUAGES) == set(REPLIES)


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_a_clear_yes_grants_recording(language):
    flow = ConsentFlow(language)
    assert flow.start() == PHRASES[language].ask
    step = flow.answer(REPLIES[language][0])
    assert step.decision is Decision.GRANTED
    assert step.say == PHRASES[language].granted
    assert flow.done and flow.recording_allowed


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_a_clear_no_declines_and_the_call_goes_on_unrecorded(language):
    flow = ConsentFlow(language)
    flow.start()
    step = flow.answer(REPLIES[language][1])
    assert step.decision is Decision.DECLINED
    assert step.say == PHRASES[language].declined
    assert not flow.recording_allowed


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_an_unclear_reply_is_asked_once_more_then_a_yes_counts(language):
    flow = ConsentFlow(language)
    flow.start()
    step = flow.answer(REPLIES[language][2])
    assert step.decision is None
    assert step.say == PHRASES[language].ask_again
    assert flow.state is State.ASKED_AGAIN
    assert flow.answer(REPLIES[language][0]).decision is Decision.GRANTED


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_two_unclear_replies_count_as_no(language):
    flow = ConsentFlow(language)
    flow.start()
    flow.answer(REPLIES[language][2])
    step = flow.answer(REPLIES[language][2])
    assert step.decision is Decision.DECLINED
    assert flow.replies == [Reply.UNCLEAR, Reply.UNCLEAR]
    assert not flow.recording_allowed


def test_silence_is_treated_like_an_unclear_reply():
    flow = ConsentFlow("en-US")
    flow.start()
    assert flow.no_answer().say == PHRASES["en-US"].ask_again
    assert flow.no_answer().decision is Decision.DECLINED


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("no problem", "en-US", Reply.YES),
        ("sure, go ahead", "en-US", Reply.YES),
        ("I don't know", "en-US", Reply.UNCLEAR),
        ("yes no", "en-US", Reply.UNCLEAR),
        ("don't", "en-US", Reply.NO),
        ("YES!", "en-GB", Reply.YES),
        ("si", "es-ES", Reply.YES),
        ("de acuerdo", "es-ES", Reply.YES),
        ("no estoy de acuerdo", "es-ES", Reply.NO),
        ("claro que no", "es-ES", Reply.NO),
        ("d’accord", "fr-FR", Reply.YES),
        ("pas d'accord", "fr-FR", Reply.NO),
        ("pourquoi pas", "fr-FR", Reply.YES),
        ("warum nicht", "de-DE", Reply.YES),
        ("nicht einverstanden", "de-DE", Reply.NO),
        ("ja nein", "de-DE", Reply.UNCLEAR),
        ("", "de-DE", Reply.UNCLEAR),
    ],
)
def test_classify_handles_phrases_accents_and_contradictions(text, language, expected):
    assert classify(text, language) is expected


def test_an_unknown_language_uses_the_default_phrases():
    flow = ConsentFlow("pt-BR")
    assert flow.language == "en-US"
    assert flow.start() == PHRASES["en-US"].ask


def test_when_consent_is_not_required_recording_may_proceed_without_asking():
    flow = ConsentFlow("fr-FR", required=False)
    assert flow.done
    assert flow.decision is Decision.NOT_REQUIRED
    assert flow.recording_allowed
    with pytest.raises(RuntimeError):
        flow.start()


def test_it_refuses_answers_before_the_question_or_after_the_decision():
    flow = ConsentFlow("en-US")
    with pytest.raises(RuntimeError, match="no consent question"):
        flow.answer("yes")
    flow.start()
    flow.answer("yes")
    with pytest.raises(RuntimeError, match="no consent question"):
        flow.answer("no")
    assert flow.decision is Decision.GRANTED
