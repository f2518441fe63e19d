"""Subject ids are kept only as keyed hashes (GDPR Art 4(5) pseudonymisation)."""

from __future__ import annotations

import hashlib
import hmac


class Pseudonymiser:
    """Turns a subject id into a stable pseudonym that cannot be reversed without the key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "Pseudonymiser(key=***)"

    def __call__(self, subject_id: str) -> str:
        return hmac.new(self._key, subject_id.encode("utf-8"), hashlib.sha256).hexdigest()
