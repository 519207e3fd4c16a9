"""The one exception tree of tocsin; boundaries translate foreign errors into it.

::

    TocsinError
      + ConfigError              bad configuration file or flag
      + IngestError
      |   - DecodeError          the bytes are not the wire format (HTTP 400/422)
      |   - RejectedEvent        well-formed but not acceptable (HTTP 422)
      |   - GuardRefusal         refused by the protected-category guard (HTTP 422)
      |   - PayloadTooLarge      over a configured size bound (HTTP 413)
      + StoreError
      |   - StoreUnavailable     overloaded or shutting down; retry later (HTTP 503)
      + InvalidRequest           a request's fields are wrong or missing (HTTP 422)
      + Unauthorized             no valid credentials (HTTP 401)
      + Forbidden                the caller's role may not do this (HTTP 403)
      + TooManyRequests          throttled; retry after ``retry_after`` s (HTTP 429)
      + NotFound                 no such object (HTTP 404)
      + Conflict                 the request contradicts current state (HTTP 409)
      |   - IllegalTransition    an action the incident's state does not allow
      + DeliveryError            a notification channel failed; carries a retry decision
      + ProofError               a Merkle proof does not verify (tocsin.audit.merkle)
      + CheckpointError          a signed checkpoint is malformed or badly signed (tocsin.audit.checkpoint)
      + ExportError              a line of an audit export is not a record (tocsin.audit.verify)
      + AuditIntegrityError      the log no longer extends its last checkpoint (tocsin.audit.log)

Each carries the HTTP status it maps to, so the API renders every one the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

__all__ = (
    "Conflict",
    "ConfigError",
    "DecodeError",
    "DeliveryError",
    "FieldError",
    "GuardRefusal",
    "Forbidden",
    "TooManyRequests",
    "Unauthorized",
    "IllegalTransition",
    "IngestError",
    "InvalidRequest",
    "NotFound",
    "PayloadTooLarge",
    "RejectedEvent",
    "StoreError",
    "StoreUnavailable",
    "TocsinError",
)


class FieldError(msgspec.Struct, frozen=True, omit_defaults=True):
    """What was wrong with one item of a request: which item, which field, why."""

    message: str
    index: int | None = None
    path: str | None = None


class TocsinError(Exception):
    """Base of every error tocsin raises on purpose."""

    status_code: int = 500
    code: str = "internal_error"

    def __init__(self, detail: str, *, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.detail!r})"


class ConfigError(TocsinError):
    """The configuration file or a command-line flag is wrong."""

    code = "config_error"


class IngestError(TocsinError):
    """An incoming message could not be taken in."""

    status_code = 422
    code = "invalid_input"


class DecodeError(IngestError):
    """The body is not valid for its wire format; ``errors`` lists every bad item."""

    code = "invalid_events"


class RejectedEvent(IngestError):
    """A well-formed event that policy does not accept."""

    code = "rejected_event"


class GuardRefusal(IngestError):
    """The protected-category guard refused a definition, attribute or filter. No override."""

    code = "guard_refused"


class PayloadTooLarge(IngestError):
    """A request exceeds a configured bound (bytes or items)."""

    status_code = 413
    code = "payload_too_large"


class StoreError(TocsinError):
    """The durable store failed."""

    code = "store_error"


class StoreUnavailable(StoreError):
    """The store cannot take more work now; the client should retry after ``retry_after`` s."""

    status_code = 503
    code = "unavailable"

    def __init__(self, detail: str, *, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class InvalidRequest(TocsinError):
    """A request is well-formed JSON but a field is missing or wrong for what it asks."""

    status_code = 422
    code = "invalid_request"


class Unauthorized(TocsinError):
    """No credentials, or wrong ones."""

    status_code = 401
    code = "unauthorized"


class TooManyRequests(TocsinError):
    """Throttled; the client may try again after ``retry_after`` seconds."""

    status_code = 429
    code = "too_many_requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Forbidden(TocsinError):
    """The caller is known but its role does not allow this."""

    status_code = 403
    code = "forbidden"


class NotFound(TocsinError):
    """The object asked for does not exist."""

    status_code = 404
    code = "not_found"


class Conflict(TocsinError):
    """The request contradicts the object's current state."""

    status_code = 409
    code = "conflict"


class IllegalTransition(Conflict):
    """An action the incident's handling state does not allow; ``allowed`` names those it does."""

    code = "illegal_transition"

    def __init__(self, detail: str, *, allowed: Sequence[str]) -> None:
        super().__init__(detail)
        self.allowed = sorted(allowed)


class DeliveryError(TocsinError):
    """A channel could not deliver; ``retryable`` says whether trying again can help."""

    code = "delivery_failed"

    def __init__(self, detail: str, *, retryable: bool, reason: str) -> None:
        super().__init__(detail)
        self.retryable = retryable
        self.reason = reason
