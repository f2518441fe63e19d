"""The kinds of data the law forbids when managing workers, and how a policy declares a
system's input fields.

AI Act Art 5(1)(f) forbids inferring emotions at work (except for medical or safety
reasons); Platform Work Directive Art 7(1) forbids processing data on a worker's
emotional or psychological state, private conversations, off-duty behaviour, the
exercise of fundamental rights such as union activity, inferred special categories,
and biometric identification. GDPR Art 9 adds the special categories themselves.

Field names are matched by *tokens*: ``moodScore``, ``mood_score`` and ``mood-score``
are all ``mood score``. A pattern is a run of tokens; a trailing ``*`` on a token
matches any token starting with it, which catches Dutch compounds (``vakbond*`` matches
``vakbondslidmaatschap``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ExceptionUse = Literal["medical", "safety", "authentication"]


@dataclass(frozen=True)
class ProhibitedCategory:
    name: str
    description: str
    article: str
    #: The uses for which the law allows this data, with a written justification.
    allowed_uses: frozenset[str]
    patterns: tuple[tuple[str, ...], ...]


def _patterns(names: str) -> tuple[tuple[str, ...], ...]:
    """Space-separated patterns, each a run of tokens joined by ``_``."""
    return tuple(tuple(name.split("_")) for name in names.split())


CATEGORIES: dict[str, ProhibitedCategory] = {
    c.name: c
    for c in (
        ProhibitedCategory(
            "emotion",
            "emotion or psychological state",
            "AI Act Art 5(1)(f); Platform Work Directive Art 7(1)(a)",
            frozenset({"medical", "safety"}),
            _patterns(
                "emotion* sentiment* mood* affect affective feeling* stress* anxiety anxious "
                "anger angry frustrat* happiness happy sadness psychological* psyche mental_state "
                "facial_expression* voice_tone tone_of_voice engagement_emotion* emotie* "
                "stemming* gevoel* gemoed* angst* boosheid psychisch* welbevinden"
            ),
        ),
        ProhibitedCategory(
            "private_conversations",
            "private conversations",
            "Platform Work Directive Art 7(1)(b)",
            frozenset(),
            _patterns(
                "private_message* private_chat* private_conversation* dm dms direct_message* "
                "whatsapp* chat_log* chat_history call_recording* personal_email* email_content* "
                "privebericht* prive_bericht* chatgeschiedenis privegesprek* prive_gesprek*"
            ),
        ),
        ProhibitedCategory(
            "off_duty",
            "behaviour while off duty",
            "Platform Work Directive Art 7(1)(c)",
            frozenset(),
            _patterns(
                "off_duty* offduty* after_hours* outside_work* private_life personal_life "
                "leisure* social_media* weekend_activit* off_shift* buiten_werktijd* vrije_tijd* "
                "vrijetijd* prive* sociale_media*"
            ),
        ),
        ProhibitedCategory(
            "trade_union",
            "trade-union activity or membership",
            "Platform Work Directive Art 7(1)(d) and (e); GDPR Art 9(1)",
            frozenset(),
            _patterns(
                "union unions union_member* trade_union* unionised unionized unionis* unioniz* "
                "strike* collective_action* vakbond* staking* fnv cnv ondernemingsraad*"
            ),
        ),
        ProhibitedCategory(
            "racial_ethnic_origin",
            "inferred racial or ethnic origin",
            "Platform Work Directive Art 7(1)(e); AI Act Art 5(1)(g); GDPR Art 9(1)",
            frozenset(),
            _patterns(
                "race racial* ethnic* skin_colo* skin_tone ancestry surname_origin name_origin "
                "etnisch* etniciteit ras afkomst herkomst* huidskleur migratieachtergrond"
            ),
        ),
        ProhibitedCategory(
            "migration_status",
            "migration status",
            "Platform Work Directive Art 7(1)(e)",
            frozenset(),
            _patterns(
                "migration* immigration* immigrant* migrant* residence_permit* visa_status "
                "refugee* asylum* migratie* verblijfsstatus verblijfsvergunning* vluchteling* "
                "asiel* statushouder*"
            ),
        ),
        ProhibitedCategory(
            "belief",
            "political opinion or religious or philosophical belief",
            "Platform Work Directive Art 7(1)(e); GDPR Art 9(1)",
            frozenset(),
            _patterns(
                "political* politics party_affiliation voting* religio* faith church* mosque* "
                "belief* politiek* partijvoorkeur religie* geloof* kerk* moskee* "
                "levensovertuiging*"
            ),
        ),
        ProhibitedCategory(
            "health",
            "health, disability or pregnancy",
            "Platform Work Directive Art 7(1)(e); GDPR Art 9(1)",
            frozenset(),
            _patterns(
                "health* medical* medication* illness* sick* disease* diagnos* disabilit* "
                "disabled pregnan* chronic* hiv mental_health gezondheid* ziek* medisch* "
                "medicatie diagnose* handicap* beperking* zwanger* arbeidsongeschikt*"
            ),
        ),
        ProhibitedCategory(
            "sexual_orientation",
            "sex life or sexual orientation",
            "Platform Work Directive Art 7(1)(e); GDPR Art 9(1)",
            frozenset(),
            _patterns(
                "sexual* sexuality sex_life lgbt* gay lesbian seksue* seksualiteit geaardheid"
            ),
        ),
        ProhibitedCategory(
            "biometric",
            "biometric data other than for authentication",
            "Platform Work Directive Art 7(1)(f); AI Act Art 5(1)(g); GDPR Art 9(1)",
            frozenset({"authentication"}),
            _patterns(
                "biometric* fingerprint* face_embedding* faceprint* face_template* facial* iris "
                "iris_scan* retina* voiceprint* voice_print* gait* biometrisch* vingerafdruk* "
                "gezichtsherkenning*"
            ),
        ),
    )
}

Category = Literal[
    "ordinary",
    "emotion",
    "private_conversations",
    "off_duty",
    "trade_union",
    "racial_ethnic_origin",
    "migration_status",
    "belief",
    "health",
    "sexual_orientation",
    "biometric",
]


class InputException(BaseModel):
    """The one lawful use of a prohibited kind of data, with the reason written down."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    use: ExceptionUse
    justification: str = Field(
        min_length=30,
        max_length=2000,
        description="Why this data is needed for that use; logged on every decision using it",
    )


class InputDeclaration(BaseModel):
    """What one input field of a system holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    category: Category
    exception: InputException | None = None

    @model_validator(mode="after")
    def _exception_is_lawful(self) -> InputDeclaration:
        if self.exception is None:
            return self
        if self.category == "ordinary":
            raise ValueError("an ordinary field needs no exception; remove it")
        allowed = CATEGORIES[self.category].allowed_uses
        if self.exception.use not in allowed:
            lawful = " or ".join(sorted(allowed)) if allowed else "no use at all"
            raise ValueError(
                f"the law allows {CATEGORIES[self.category].description} data for "
                f"{lawful}, not for {self.exception.use}"
            )
        return self


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[^a-z0-9]+")


def tokens(name: str) -> tuple[str, ...]:
    """``moodScore``, ``mood_score``, ``Mood-Score`` → ``("mood", "score")``."""
    return tuple(t for t in _SEPARATORS.split(_CAMEL.sub("_", name).lower()) if t)


def _token_matches(pattern: str, token: str) -> bool:
    if pattern.endswith("*"):
        return token.startswith(pattern[:-1])
    return token == pattern


def match_category(name: str) -> ProhibitedCategory | None:
    """The prohibited category a field name points at, if its name gives it away."""
    words = tokens(name)
    for category in CATEGORIES.values():
        for pattern in category.patterns:
            width = len(pattern)
            for start in range(len(words) - width + 1):
                if all(_token_matches(p, w) for p, w in zip(pattern, words[start:], strict=False)):
                    return category
    return None
