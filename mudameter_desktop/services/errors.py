"""Errors the use cases raise; callers turn them into 4xx answers or UI messages."""


class NotFoundError(LookupError):
    """No meeting with that id."""


class InvalidInputError(ValueError):
    """An argument breaks a domain rule (title length, duration, time range)."""


class TooManyParticipantsError(RuntimeError):
    """One client address already holds the most live participants a meeting allows."""
