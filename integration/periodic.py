"""A background beat for work that holds a lease: call ``fn`` every ``seconds`` until the block ends.

Why: a lease counted only from its claim expires under a long job or a slow send, and a second
worker then repeats the work. Both the scheduler's job leases and the outbox's row leases renew
through this one helper. A failed beat is logged, never raised: it only risks a duplicate, never
a loss, and the holder finds out when it tries to finish.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from integration.logs import event

log = logging.getLogger("safechannels.lease")


class Periodic:
    """``with Periodic(renew, 100, "lease-audit"):`` — ``renew()`` runs every 100 s in a daemon thread."""

    def __init__(self, fn: Callable[[], object], seconds: float, name: str):
        self.fn, self.seconds, self.name = fn, seconds, name
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=name, daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                self.fn()
            except Exception:  # noqa: BLE001 - see the module docstring
                event(log, "lease.renew_failed", logging.WARNING, holder=self.name)

    def __enter__(self) -> Periodic:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
