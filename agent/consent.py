"""Recording consent as a small state machine, independent of livekit-agents.

When a clinic requires consent, the receptionist asks before anything else. The caller's reply
(a transcript) is classified as yes, no or unclear in the call's language; an unclear reply or
silence gets the question once more, and a second unclear reply counts as no. The call goes on
either way; only recording depends on the answer.

    flow = ConsentFlow("en-US")
    say(flow.start())
    step = flow.answer("yeah that's fine")   # -> ConsentStep(say="Thank you.", decision=GRANTED)
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass

from agent.clinic_config import DEFAULT_LANGUAGE

# The agent's participant attribute that carries the decision, for a recorder to honour.
CONSENT_ATTRIBUTE = "switchboard.recording_consent"
# How long the consent agent waits for an answer after asking.
CONSENT_ANSWER_TIMEOUT_S = 8.0


class Decision(enum.Enum):
    GRANTED = "granted"
    DECLINED = "declined"
    NOT_REQUIRED = "not_required"


class Reply(enum.Enum):
    YES = "yes"
    NO = "no"
    UNCLEAR = "unclear"


@dataclass(frozen=True)
class Phrases:
    ask: str
    ask_again: str
    granted: str
    declined: str
    # Phrases are matched before words, and removed once matched, so that "no problem"
    # is a yes and "pas d'accord" is a no, not a contradiction.
    yes_phrases: tuple[str, ...]
    no_phrases: tuple[str, ...]
    yes_words: frozenset[str]
    no_words: frozenset[str]
    # Hedges ("I don't know") make a reply unclear outright, whatever else it contains.
    unclear_phrases: tuple[str, ...] = ()


_EN_YES_PHRASES = (
    "no problem",
    "no worries",
    "that's fine",
    "that is fine",
    "go ahead",
    "of course",
    "i agree",
    "i consent",
    "i do",
    "why not",
    "that's ok",
    "that's okay",
    "all right",
)
_EN_NO_PHRASES = (
    "do not",
    "don't",
    "dont",
    "rather not",
    "not okay",
    "not ok",
    "no way",
    "not fine",
    "i object",
    "please don't",
    "i don't agree",
)
_EN_UNCLEAR = (
    "don't know",
    "dont know",
    "do not know",
    "not sure",
    "what do you mean",
    "why do you",
)
_EN_YES = frozenset(
    {
        "yes",
        "yeah",
        "yep",
        "yup",
        "sure",
        "ok",
        "okay",
        "fine",
        "alright",
        "absolutely",
        "certainly",
        "agreed",
        "definitely",
        "aye",
    }
)
_EN_NO = frozenset({"no", "nope", "nah", "never", "not", "refuse", "decline", "object"})

PHRASES: dict[str, Phrases] = {
    "en-US": Phrases(
        ask=(
            "Before we continue: this call may be recorded for quality and record-keeping. "
            "Is that okay with you? Please say yes or no."
        ),
        ask_again="Sorry, I didn't catch that. May we record this call? Please say yes or no.",
        granted="Thank you.",
        declined="No problem, this call will not be recorded.",
        yes_phrases=_EN_YES_PHRASES,
        no_phrases=_EN_NO_PHRASES,
        yes_words=_EN_YES,
        no_words=_EN_NO,
        unclear_phrases=_EN_UNCLEAR,
    ),
    "en-GB": Phrases(
        ask=(
            "Before we carry on: this call may be recorded for quality and record-keeping. "
            "Is that all right with you? Please say yes or no."
        ),
        ask_again="Sorry, I didn't catch that. May we record this call? Please say yes or no.",
        granted="Thank you.",
        declined="That's fine, this call won't be recorded.",
        yes_phrases=(*_EN_YES_PHRASES, "go on", "by all means"),
        no_phrases=(*_EN_NO_PHRASES, "i'd rather not"),
        yes_words=_EN_YES | {"righto", "cheers"},
        no_words=_EN_NO,
        unclear_phrases=_EN_UNCLEAR,
    ),
    "es-ES": Phrases(
        ask=(
            "Antes de continuar: esta llamada puede ser grabada con fines de calidad y de "
            "registro. ¿Está de acuerdo? Por favor, diga sí o no."
        ),
        ask_again="Perdone, no le he entendido. ¿Podemos grabar esta llamada? Diga sí o no.",
        granted="Gracias.",
        declined="De acuerdo, esta llamada no se grabará.",
        yes_phrases=(
            "de acuerdo",
            "por supuesto",
            "esta bien",
            "claro que si",
            "no hay problema",
            "sin problema",
            "adelante",
            "lo acepto",
            "por que no",
        ),
        no_phrases=(
            "no estoy de acuerdo",
            "prefiero que no",
            "de ninguna manera",
            "ni hablar",
            "no quiero",
            "mejor no",
            "claro que no",
        ),
        yes_words=frozenset(
            {"si", "claro", "vale", "bueno", "acepto", "perfecto", "valeee", "okey", "ok"}
        ),
        no_words=frozenset({"no", "nunca", "jamas", "tampoco"}),
        unclear_phrases=("no se", "no estoy seguro", "no estoy segura", "para que"),
    ),
    "fr-FR": Phrases(
        ask=(
            "Avant de continuer : cet appel peut être enregistré à des fins de qualité et de "
            "suivi. Êtes-vous d'accord ? Veuillez répondre oui ou non."
        ),
        ask_again=(
            "Pardon, je n'ai pas compris. Pouvons-nous enregistrer cet appel ? "
            "Répondez oui ou non, s'il vous plaît."
        ),
        granted="Merci.",
        declined="Très bien, cet appel ne sera pas enregistré.",
        yes_phrases=(
            "bien sur",
            "pas de probleme",
            "pas de souci",
            "je suis d'accord",
            "ca me va",
            "allez-y",
            "volontiers",
            "pourquoi pas",
        ),
        no_phrases=(
            "pas d'accord",
            "je refuse",
            "hors de question",
            "je ne veux pas",
            "pas question",
            "plutot pas",
            "surtout pas",
        ),
        yes_words=frozenset(
            {
                "oui",
                "ouais",
                "d'accord",
                "ok",
                "okay",
                "daccord",
                "entendu",
                "absolument",
                "certainement",
                "parfait",
            }
        ),
        no_words=frozenset({"non", "jamais", "refuse"}),
        unclear_phrases=("je ne sais pas", "sais pas", "pas sur", "a quoi bon"),
    ),
    "de-DE": Phrases(
        ask=(
            "Bevor wir fortfahren: Dieses Gespräch kann zu Qualitäts- und "
            "Dokumentationszwecken aufgezeichnet werden. Sind Sie damit einverstanden? "
            "Bitte antworten Sie mit Ja oder Nein."
        ),
        ask_again=(
            "Entschuldigung, das habe ich nicht verstanden. Dürfen wir dieses Gespräch "
            "aufzeichnen? Bitte sagen Sie Ja oder Nein."
        ),
        granted="Vielen Dank.",
        declined="In Ordnung, dieses Gespräch wird nicht aufgezeichnet.",
        yes_phrases=(
            "in ordnung",
            "na klar",
            "kein problem",
            "ist okay",
            "geht klar",
            "bin einverstanden",
            "warum nicht",
        ),
        no_phrases=(
            "nicht einverstanden",
            "lieber nicht",
            "auf keinen fall",
            "will ich nicht",
            "bitte nicht",
            "nicht in ordnung",
        ),
        yes_words=frozenset(
            {
                "ja",
                "jawohl",
                "klar",
                "gerne",
                "gern",
                "einverstanden",
                "okay",
                "ok",
                "sicher",
                "selbstverstandlich",
                "natuerlich",
                "naturlich",
            }
        ),
        no_words=frozenset({"nein", "no", "nee", "noe", "nicht", "niemals"}),
        unclear_phrases=("weiss nicht", "nicht sicher", "keine ahnung", "wieso"),
    ),
}


def _normalise(text: str) -> str:
    """Lower case, accents stripped (STT output varies: "sí"/"si", "sûr"/"sur"), and
    apostrophes and spacing made uniform."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("\u2019", "'").replace("ß", "ss")
    text = re.sub(r"[^\w' -]+", " ", text)
    return " " + re.sub(r"\s+", " ", text).strip() + " "


def classify(text: str, language: str) -> Reply:
    """Classify a reply to the consent question. Both a yes and a no, or neither: UNCLEAR."""
    phrases = PHRASES.get(language, PHRASES[DEFAULT_LANGUAGE])
    rest = _normalise(text)
    if any(_normalise(hedge) in rest for hedge in phrases.unclear_phrases):
        return Reply.UNCLEAR
    yes = no = 0
    # Longest phrases first, so "no estoy de acuerdo" wins over "de acuerdo".
    tagged = [(p, Reply.NO) for p in phrases.no_phrases] + [
        (p, Reply.YES) for p in phrases.yes_phrases
    ]
    for phrase, kind in sorted(tagged, key=lambda item: -len(item[0])):
        needle = _normalise(phrase)
        while needle in rest:
            rest = rest.replace(needle, " ", 1)
            yes, no = (yes + 1, no) if kind is Reply.YES else (yes, no + 1)
    for word in rest.split():
        word = word.strip("'-")
        if word in phrases.yes_words:
            yes += 1
        elif word in phrases.no_words:
            no += 1
    if yes and not no:
        return Reply.YES
    if no and not yes:
        return Reply.NO
    return Reply.UNCLEAR


class State(enum.Enum):
    NOT_STARTED = "not_started"
    ASKED = "asked"
    ASKED_AGAIN = "asked_again"
    DONE = "done"


@dataclass(frozen=True)
class ConsentStep:
    """What the agent says next, and the decision once there is one."""

    say: str
    decision: Decision | None = None


class ConsentFlow:
    """Ask, listen, maybe ask once more, decide. One instance per call."""

    def __init__(self, language: str, *, required: bool = True) -> None:
        self.language = language if language in PHRASES else DEFAULT_LANGUAGE
        self._phrases = PHRASES[self.language]
        self.state = State.NOT_STARTED if required else State.DONE
        self.decision: Decision | None = None if required else Decision.NOT_REQUIRED
        self.replies: list[Reply] = []

    @property
    def recording_allowed(self) -> bool:
        return self.decision in (Decision.GRANTED, Decision.NOT_REQUIRED)

    @property
    def done(self) -> bool:
        return self.state is State.DONE

    def start(self) -> str:
        if self.state is not State.NOT_STARTED:
            raise RuntimeError(f"consent flow already started (state {self.state.value})")
        self.state = State.ASKED
        return self._phrases.ask

    def answer(self, transcript: str) -> ConsentStep:
        """Feed the caller's final transcript for this turn."""
        return self._on_reply(classify(transcript, self.language))

    def no_answer(self) -> ConsentStep:
        """The caller said nothing in time: the same as an unclear reply."""
        return self._on_reply(Reply.UNCLEAR)

    def _on_reply(self, reply: Reply) -> ConsentStep:
        if self.state not in (State.ASKED, State.ASKED_AGAIN):
            raise RuntimeError(f"no consent question is pending (state {self.state.value})")
        self.replies.append(reply)
        if reply is Reply.YES:
            return self._finish(Decision.GRANTED, self._phrases.granted)
        if reply is Reply.NO or self.state is State.ASKED_AGAIN:
            return self._finish(Decision.DECLINED, self._phrases.declined)
        self.state = State.ASKED_AGAIN
        return ConsentStep(say=self._phrases.ask_again)

    def _finish(self, decision: Decision, say: str) -> ConsentStep:
        self.state = State.DONE
        self.decision = decision
        return ConsentStep(say=say, decision=decision)
