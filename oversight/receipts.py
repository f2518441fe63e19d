"""Receipts: the worker's credential for one decision.

A receipt is an HMAC over the decision id and a random 128-bit nonce, under a server
key. The nonce makes it unguessable even to someone who knows the decision id; the HMAC
lets a replay of the same decision return the same receipt without the receipt ever
being stored. Only its SHA-256 is kept, for look-up.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


class ReceiptIssuer:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "ReceiptIssuer(key=***)"

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_hex(16)

    def receipt(self, decision_id: str, nonce: str) -> str:
        mac = hmac.new(self._key, f"{decision_id}\x1f{nonce}".encode(), hashlib.sha256).digest()
        return "rcpt_" + base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def receipt_hash(receipt: str) -> str:
    return hashlib.sha256(receipt.encode("utf-8")).hexdigest()
