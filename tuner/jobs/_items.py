"""The queued items in memory, in order, and every change to one: published as a
``job`` event (a download's progress a few times a second at most) and, when its
job's state changed, saved by the persister."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

import attrs
import trio

from tuner.core import jobs
from tuner.core.jobs import ProgressGate, TransitionError
from tuner.core.source import Source
from tuner.events import EventHub
from tuner.jobs._errors import QueueConflictError, UnknownItemError
from tuner.jobs._store import QueueItem

log = logging.getLogger(__name__)

#: A job's progress goes out at most this often a second (a change of state, always).
PROGRESS_PER_SECOND = 4.0

Step = Callable[[jobs.Job], jobs.Job]


class Items:
    """The items by id, and their order (which only the queue's edits replace)."""

    def __init__(self, events: EventHub, save_later: Callable[[str], None]) -> None:
        """Items published to ``events``; ``save_later`` has one's state saved."""
        self._events = events
        self._save_later = save_later
        self._gate = ProgressGate(PROGRESS_PER_SECOND)
        self._by_id: dict[str, QueueItem] = {}
        #: The ids in order; replaced as a whole by an edit, once the database has it.
        self.order: list[str] = []

    def in_order(self) -> list[QueueItem]:
        """The queue, in order."""
        return [self._by_id[i] for i in self.order]

    def get(self, item_id: str) -> QueueItem | None:
        """An item, or ``None`` when there is none (any more)."""
        return self._by_id.get(item_id)

    def item(self, item_id: str) -> QueueItem:
        """An item.

        Raises:
            UnknownItemError: no such item.
        """
        item = self._by_id.get(item_id)
        if item is None:
            raise UnknownItemError(f"no queued item has the id {item_id!r}")
        return item

    def put(self, item: QueueItem) -> None:
        """Hold a new (or restored) item; the edit sets the order."""
        self._by_id[item.id] = item

    def forget(self, item_id: str) -> None:
        """An item left the queue."""
        del self._by_id[item_id]
        self._gate.forget(item_id)

    def person_step(self, item_id: str, step: Step) -> None:
        """A person's step of a job (cancel, retry): applied at once, before any await.

        Raises:
            UnknownItemError: no such item.
            QueueConflictError: the job's state does not allow it.
        """
        try:
            self._change(item_id, lambda i: attrs.evolve(i, job=step(i.job)))
        except TransitionError as exc:
            raise QueueConflictError(str(exc)) from None

    def step(self, item_id: str, step: Step) -> None:
        """A worker's step of a job: published, and saved when its state changed."""
        try:
            before, after = self._change(item_id, lambda i: attrs.evolve(i, job=step(i.job)))
        except UnknownItemError:
            return  # removed meanwhile: its job is being cancelled
        except TransitionError as exc:
            log.warning("queue: a step of %s's job was refused (a bug): %s", item_id, exc)
            return
        if after.job.state is not before.job.state:
            self._save_later(item_id)

    def resolved(self, item_id: str, source: Source) -> None:
        """What the item's resolution says of it (title, live, duration); saved."""
        with_media = partial(
            attrs.evolve, title=source.title, is_live=source.is_live, duration=source.duration
        )
        before, after = self._change(item_id, with_media)
        if after != before:
            self._save_later(item_id)

    def _change(
        self, item_id: str, change: Callable[[QueueItem], QueueItem]
    ) -> tuple[QueueItem, QueueItem]:
        """Apply a change to an item in memory and publish it (progress at most
        :data:`PROGRESS_PER_SECOND` times a second)."""
        before = self.item(item_id)
        after = change(before)
        if after != before:
            self._by_id[item_id] = after
            progress_kept = attrs.evolve(after.job, progress=before.job.progress)
            only_progress = attrs.evolve(after, job=progress_kept) == before
            if self._gate.admit(item_id, trio.current_time(), state_changed=not only_progress):
                self._events.publish("job", after.to_json())
        return before, after
