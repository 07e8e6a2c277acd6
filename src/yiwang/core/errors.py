"""Domain exceptions raised by services; views and the API turn them into 4xx responses."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a user can cause. ``status`` is the HTTP status it maps to."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class ValidationFailed(DomainError):
    status = 400
    code = "invalid"


class StateError(DomainError):
    """The object is not in a state that allows this action (e.g. publishing a draft)."""

    status = 409
    code = "state_conflict"


class Conflict(DomainError):
    """Someone else changed the object first."""

    status = 409
    code = "conflict"


class NotPermitted(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"
