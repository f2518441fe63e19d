"""Every error oversight raises on purpose, and the HTTP status each one means.

The tree::

    OversightError
    ├── ConfigurationError        settings or policy file unusable (CLI exit 2)
    │   └── PolicyError           the policy file is invalid; names file, line and field
    ├── StorageUnavailable        the database cannot be reached or refused the write (503)
    ├── SidecarUnreachable        the SDK could not reach the sidecar, or it failed (client side)
    ├── AuthenticationRequired    no key, or a key that is not known (401)
    ├── PermissionDenied          a valid key whose role or registration does not allow it (403)
    ├── NotFound                  the thing named does not exist or is not visible (404)
    ├── Conflict                  the request contradicts the current state (409)
    │   ├── IdempotencyConflict   same decision id, different body
    │   └── ClaimConflict         another reviewer holds the claim, or four eyes refuse it
    ├── InvalidRequest            well-formed JSON that the domain rules refuse (422)
    │   └── UnknownSystem         a system or decision type that the policy does not know
    ├── TooManyRequests           a limit per receipt was reached (429)
    └── PayloadTooLarge           a request body over the size limit (413)

The HTTP layer maps a raised error to its status along the class's MRO (see
``oversight.api.app``), so a new subclass gets the right status by where it hangs.
"""

from __future__ import annotations


class OversightError(Exception):
    """Root of every error raised on purpose by oversight."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(OversightError):
    """Settings or a configuration file cannot be used as given."""


class PolicyError(ConfigurationError):
    """The policy file is invalid; the message names the file, line and field."""


class StorageUnavailable(OversightError):
    """The database could not be reached, or failed the write; nothing was recorded."""

    status_code = 503


class SidecarUnreachable(OversightError):
    """The SDK client got no usable answer from the sidecar; nothing is known to be recorded."""

    status_code = 502


class AuthenticationRequired(OversightError):
    """No API key was sent, or the key is not known."""

    status_code = 401


class PermissionDenied(OversightError):
    """The key is valid but its role or registration does not allow this."""

    status_code = 403


class NotFound(OversightError):
    """The named object does not exist, or the caller may not know it exists."""

    status_code = 404


class Conflict(OversightError):
    """The request contradicts the current state of the object."""

    status_code = 409


class IdempotencyConflict(Conflict):
    """A decision id was sent again with a different body."""


class ClaimConflict(Conflict):
    """A review task cannot be claimed or decided by this reviewer now."""


class InvalidRequest(OversightError):
    """The request is well-formed but the domain rules refuse it.

    ``field`` names the body field at fault, so the 422 has the same shape as a
    validation error of the request schema.
    """

    status_code = 422

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownSystem(InvalidRequest):
    """The system or decision type is not in the policy."""


class TooManyRequests(OversightError):
    """A per-receipt limit was reached."""

    status_code = 429


class PayloadTooLarge(OversightError):
    """The request body is larger than the server accepts."""

    status_code = 413
