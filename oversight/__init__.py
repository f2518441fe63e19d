"""oversight: human oversight around AI systems that manage people at work.

The in-process entry is ``Oversight``: record, check, route and audit decisions against
a database without a server. The HTTP sidecar is ``oversight.api.create_app``.
"""

from oversight.errors import OversightError
from oversight.policy import Policy, load_policy
from oversight.schemas import DecisionAccepted, DecisionIn, Explanation, Factor, Finding
from oversight.service import Oversight
from oversight.settings import Settings

__all__ = [
    "DecisionAccepted",
    "DecisionIn",
    "Explanation",
    "Factor",
    "Finding",
    "Oversight",
    "OversightError",
    "Policy",
    "Settings",
    "load_policy",
]
