"""Receptionist presets: a greeting, instructions, a language and a voice that fit together.

A preset only pre-fills the setup form; nothing is stored until the clinic saves it, so
presets can change without touching any clinic's configuration.
"""

from __future__ import annotations

from dataclasses import dataclass

from telephony.models import DEFAULT_GREETING, DEFAULT_INSTRUCTIONS, Receptionist

Language = Receptionist.Language
Voice = Receptionist.Voice


@dataclass(frozen=True)
class AgentPreset:
    key: str
    title: str
    language: str
    voice: str
    greeting: str  # `{clinic}` is replaced by the clinic's name
    instructions_suffix: str = ""

    @property
    def summary(self) -> str:
        return f"{Language(self.language).label} · {Voice(self.voice).label}"

    def values(self, clinic_name: str) -> dict[str, str]:
        instructions = DEFAULT_INSTRUCTIONS.format(clinic=clinic_name)
        if self.instructions_suffix:
            instructions = f"{instructions} {self.instructions_suffix}"
        return {
            "greeting": self.greeting.format(clinic=clinic_name),
            "instructions": instructions,
            "language": self.language,
            "voice": self.voice,
        }


# The instructions stay in English (the language model follows them in any language); the
# suffix tells it which language to speak, and the greeting is already in that language.
AGENT_PRESETS: tuple[AgentPreset, ...] = (
    AgentPreset("dental-en-us", "Dental practice", Language.EN_US, Voice.CORAL, DEFAULT_GREETING),
    AgentPreset(
        "dental-en-gb",
        "Dental practice",
        Language.EN_GB,
        Voice.SAGE,
        "Thank you for calling {clinic}. How may I help you today?",
        "Use British English spelling and phrasing.",
    ),
    AgentPreset(
        "dental-es",
        "Clínica dental",
        Language.ES_ES,
        Voice.CORAL,
        "Gracias por llamar a {clinic}. ¿En qué puedo ayudarle?",
        "Speak Spanish with callers, using the formal 'usted'.",
    ),
    AgentPreset(
        "dental-fr",
        "Cabinet dentaire",
        Language.FR_FR,
        Voice.ALLOY,
        "Merci d'avoir appelé {clinic}. Comment puis-je vous aider ?",
        "Speak French with callers, using 'vous'.",
    ),
    AgentPreset(
        "dental-de",
        "Zahnarztpraxis",
        Language.DE_DE,
        Voice.ASH,
        "Vielen Dank für Ihren Anruf bei {clinic}. Wie kann ich Ihnen helfen?",
        "Speak German with callers, using 'Sie'.",
    ),
)
PRESETS_BY_KEY = {p.key: p for p in AGENT_PRESETS}
