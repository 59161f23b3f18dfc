"""One long list read from both ends of its order at once, stopping where the two reads meet.

A paged list is a chain of dependent requests: page N+1 needs page N's token. The Directory's
users list can start only at either end of its order (starting mid-list takes a `query`, which
reads Google's search index, and that lags the directory by up to 36 hours: unsafe for a diff
that marks leavers). So a trust's 17,000 users are a chain of 35 pages, the longest in a roster
read. Reading the ascending and the descending order together halves the chain.

When to stop is decided by the data, not by assumption: the two reads have met once a page of one
holds an item the other has already read. Each read is a contiguous run from its own end of the
same order, so a shared item means nothing lies between them. That holds only if the server really
reverses the order: both reads check that their keys run the way they asked. If they do not (the
server ignored `sortOrder`, or collates differently from us), the ascending read goes on to the
end, from where it stopped, and the result is the whole list either way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from integration.logs import event

log = logging.getLogger("safechannels.google.both_ends")

T = TypeVar("T")

# pages(descending, resume_token, more) -> that direction's pages, from resume_token (None: the start)
PageReader = Callable[[bool, "str | None", Callable[[dict], bool]], Iterator[dict]]


class _Meeting:
    """What each direction has read so far, under one condition variable.

    The two reads go in step: a direction that has read more pages than the other waits for the
    other's page before asking for its next one. Both pages of a step arrive within moments of
    each other, and deciding with both in hand is what keeps the meeting from costing a call (a
    page requested just before the other direction's page showed the overlap)."""

    STEP_WAIT_S = 30.0  # a direction whose partner is stuck (retrying) reads on after this

    def __init__(self, items: Callable[[dict], list], ident: Callable[[Any], str | None],
                 key: Callable[[Any], str | None]):
        self.items, self.ident, self.key = items, ident, key
        self.lock = threading.Condition()
        self.seen: tuple[set[str], set[str]] = (set(), set())
        self.last: list[str | None] = [None, None]
        self.pages = [0, 0]
        self.ended = [False, False]  # a direction's read has ended (or failed)
        self.met = False
        self.ordered = True
        self.stopped_at: str | None = None  # the ascending read's next token when it stopped early
        self.whole = False  # the ascending read reached the end of the list
        self.in_step = True

    def end(self, descending: bool) -> None:
        with self.lock:
            self.ended[int(descending)] = True
            self.lock.notify_all()

    def page(self, descending: bool, page: dict) -> bool:
        """Record one page; True if this direction should read on."""
        side, other = int(descending), 1 - int(descending)
        with self.lock:
            self.pages[side] += 1
            self.whole = self.whole or (not descending and not page.get("nextPageToken"))
            self.lock.notify_all()
            for item in self.items(page):
                k = self.key(item)
                if k is not None:
                    prev = self.last[side]
                    if prev is not None and (k < prev if not descending else k > prev):
                        self.ordered = False
                    self.last[side] = k
                i = self.ident(item)
                if i is not None:
                    if i in self.seen[1 - side]:
                        self.met = True
                    self.seen[side].add(i)
            if not self.lock.wait_for(lambda: self.met or not self.ordered or self.ended[other] or not self.in_step
                                      or self.pages[other] >= self.pages[side], timeout=self.STEP_WAIT_S):
                self.in_step = False  # the other direction is stuck: stop waiting for it at every page
            if not self.ordered:  # trust nothing but reading ascending to the end
                return not descending
            if descending:  # the ascending read ended (met, whole or failed): nothing more to add
                return not self.met and not self.ended[0]
            if self.met:
                self.stopped_at = page.get("nextPageToken")
            return not self.met


def read_both_ends(pages: PageReader, items: Callable[[dict], list], parse: Callable[[dict], list[T]], *,
                   ident: Callable[[Any], str | None], key: Callable[[Any], str | None], what: str) -> list[T]:
    """`parse(page)` of every page of the list, ascending and descending pages mixed, each parsed as
    it arrives (while the next is in flight); items in the overlap come twice (the caller keys them).

    Both reads start at once (waiting for the first page to say whether there is more would put a
    whole round trip on the chain). Pages go in steps of one per direction, until the two reads
    share an item (which proves nothing lies between them): n items at p a page cost
    2 × ceil((n + 1) / 2p) calls against the one-way minimum of ceil(n / p) — the same, or one or
    two more (a list of one page costs two calls, read side by side)."""
    meeting = _Meeting(items, ident, key)

    def read(descending: bool, start: str | None = None, more=None) -> list[T]:
        more = more or (lambda page: meeting.page(descending, page))
        try:
            return [record for page in pages(descending, start, more) for record in parse(page)]
        finally:
            meeting.end(descending)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="both-ends") as pool:
        other = pool.submit(read, True)
        out = read(False)
        try:
            out += other.result()
        except Exception as exc:
            if not meeting.whole:
                raise
            # the ascending read went on alone to the end of the list: it holds every item
            event(log, "google.both_ends_descending_failed", logging.WARNING, list=what, error=str(exc))
    if not meeting.ordered:
        event(log, "google.both_ends_unordered", logging.WARNING, list=what,
              note="the list's descending order is not its ascending order reversed: read ascending to the end")
        if meeting.stopped_at:
            out += read(False, meeting.stopped_at, lambda page: True)
    return out
