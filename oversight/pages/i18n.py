"""The worker's page in Dutch and English: the language from a choice the worker made
(a cookie), else the browser's Accept-Language, else English."""

from __future__ import annotations

from starlette.requests import Request

LANGUAGES = ("en", "nl")
LANGUAGE_COOKIE = "oversight_lang"

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your decision",
        "lookup_heading": "Look up a decision about you",
        "lookup_intro": "Your receipt is the code you were given with the decision. "
        "It starts with rcpt_. Nobody else can see your decision without it.",
        "receipt_label": "Your receipt",
        "lookup_button": "Show my decision",
        "not_found": "We could not find a decision with this receipt. Check that it was copied "
        "whole, including rcpt_ at the start.",
        "what_decided": "What was decided",
        "outcome": "Outcome",
        "type": "Kind of decision",
        "reviewed_yes": "A person reviewed this decision.",
        "reviewed_no": "No person has reviewed this decision.",
        "under_review": "A person is reviewing this decision. You will see the outcome here "
        "once it is decided.",
        "why": "Why",
        "main_factors": "What weighed most",
        "raised": "counted in your favour",
        "lowered": "counted against",
        "what_you_can_do": "What you can do",
        "can_do": "If you think this decision is wrong or unfair, you can ask for a person to "
        "look at it again. Write what you think is wrong below. You will get a reference "
        "and an answer by the date shown. You can also ask your works council or union for help.",
        "complaint_heading": "Ask for a person to look again",
        "message_label": "What is wrong, in your own words",
        "contact_label": "How we can reach you (optional)",
        "send": "Send",
        "your_complaints": "Your requests",
        "reference": "Reference",
        "status_open": "Open: a person is looking at it",
        "status_answered": "Answered",
        "due": "Answer due by",
        "answer": "Answer",
        "changed": "The decision was changed.",
        "not_changed": "The decision was not changed.",
        "sent": "Your request was received. Your reference is {reference}.",
        "language": "Language",
        "released": "This decision was made with the help of an automated system.",
        "approved": "A person reviewed this decision and agreed with it.",
        "overridden": "A person reviewed this decision and changed it.",
        "rejected": "A person reviewed this decision and set it aside; it does not apply to you.",
        "blocked": "This decision was stopped by our checks and does not apply to you.",
        "pending_review": "A person is reviewing this decision.",
        "error": "Something went wrong",
        "back": "Back",
    },
    "nl": {
        "title": "Uw beslissing",
        "lookup_heading": "Een beslissing over u opzoeken",
        "lookup_intro": "Uw ontvangstbewijs is de code die u bij de beslissing kreeg. Die begint "
        "met rcpt_. Zonder die code kan niemand anders uw beslissing zien.",
        "receipt_label": "Uw ontvangstbewijs",
        "lookup_button": "Toon mijn beslissing",
        "not_found": "We vonden geen beslissing bij dit ontvangstbewijs. Controleer of u het "
        "helemaal hebt gekopieerd, met rcpt_ aan het begin.",
        "what_decided": "Wat er is beslist",
        "outcome": "Uitkomst",
        "type": "Soort beslissing",
        "reviewed_yes": "Een mens heeft deze beslissing beoordeeld.",
        "reviewed_no": "Geen mens heeft deze beslissing beoordeeld.",
        "under_review": "Een mens beoordeelt deze beslissing. U ziet de uitkomst hier zodra "
        "die bekend is.",
        "why": "Waarom",
        "main_factors": "Wat het zwaarst woog",
        "raised": "telde in uw voordeel",
        "lowered": "telde tegen",
        "what_you_can_do": "Wat u kunt doen",
        "can_do": "Vindt u deze beslissing onjuist of oneerlijk, dan kunt u vragen of een mens "
        "er opnieuw naar kijkt. Schrijf hieronder wat er volgens u niet klopt. U krijgt een "
        "kenmerk en een antwoord voor de getoonde datum. U kunt ook uw ondernemingsraad of "
        "vakbond om hulp vragen.",
        "complaint_heading": "Vraag of een mens opnieuw kijkt",
        "message_label": "Wat er niet klopt, in uw eigen woorden",
        "contact_label": "Hoe we u kunnen bereiken (niet verplicht)",
        "send": "Versturen",
        "your_complaints": "Uw verzoeken",
        "reference": "Kenmerk",
        "status_open": "Open: een mens kijkt ernaar",
        "status_answered": "Beantwoord",
        "due": "Antwoord uiterlijk",
        "answer": "Antwoord",
        "changed": "De beslissing is veranderd.",
        "not_changed": "De beslissing is niet veranderd.",
        "sent": "Uw verzoek is ontvangen. Uw kenmerk is {reference}.",
        "language": "Taal",
        "released": "Deze beslissing is genomen met hulp van een geautomatiseerd systeem.",
        "approved": "Een mens heeft deze beslissing beoordeeld en is het ermee eens.",
        "overridden": "Een mens heeft deze beslissing beoordeeld en veranderd.",
        "rejected": "Een mens heeft deze beslissing beoordeeld en terzijde gelegd; ze geldt "
        "niet voor u.",
        "blocked": "Deze beslissing is door onze controles tegengehouden en geldt niet voor u.",
        "pending_review": "Een mens beoordeelt deze beslissing.",
        "error": "Er ging iets mis",
        "back": "Terug",
    },
}


def language(request: Request) -> str:
    """``?lang=`` first, then the worker's earlier choice, then the browser's."""
    chosen = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag[:2] in LANGUAGES:
            return tag[:2]
    return "en"
