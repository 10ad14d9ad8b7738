"""What the queue's edits raise: one module, so that every part of the queue can."""

from __future__ import annotations


class QueueError(ValueError):
    """A request the queue cannot do as asked (bad input); the message says why."""


class UnknownItemError(LookupError):
    """No queued item (or history entry) has that id."""


class QueueConflictError(RuntimeError):
    """The request does not fit the queue's state (full; nothing to cancel)."""


class QueueUnavailableError(RuntimeError):
    """The queue is not running (starting, shutting down), or its database failed."""
