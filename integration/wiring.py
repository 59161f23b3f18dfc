"""The composition root: builds the store, crypto and connectors from settings.

The only core module (with app.py and __main__.py) allowed to import connectors.
Everything else receives what it needs from a Context.
"""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path

from integration import settings as settings_mod
from integration.crypto import Crypto, write_new_key_file
from integration.logs import event, set_school_domains
from integration.settings import Settings
from integration.store import Store
from integration.tenancy_store import adopt

log = logging.getLogger("safechannels.wiring")


class Context:
    """Everything a job needs, built lazily from one Settings."""

    lane_queue = None  # set by `queue-worker` (taskqueue.bind_context): its audits spread their lanes

    def __init__(self, settings: Settings, *, migrate: bool = True):
        self.settings = settings
        self._migrate = migrate
        set_school_domains(settings.approved_domains)

    @cached_property
    def crypto(self) -> Crypto:
        path = self.settings.resolve(self.settings.privacy.encryption_key_file)
        if not path.exists() and write_new_key_file(path):
            event(log, "crypto.key_created", logging.WARNING, path=str(path),
                  advice="back this key file up: without it stored personal addresses cannot be read")
        return Crypto.from_file(path)

    @cached_property
    def store(self) -> Store:
        store = Store(self.settings.database.url, self.crypto, base_dir=Path.cwd())
        if self._migrate:
            store.migrate()
            with store.session() as s:
                adopt(s, self.settings.tenants)
        return store

    @cached_property
    def google(self):
        """The shared Google client (credentials cache, transport, call counting)."""
        from connectors.google.transport import GoogleClient

        return GoogleClient.from_settings(self.settings)

    def roster_sources(self) -> list:
        """Directory + Classroom (+ Moodle when configured)."""
        from connectors.factory import roster_sources

        return roster_sources(self)

    def activity_sources(self) -> list:
        from connectors.factory import activity_sources

        return activity_sources(self)

    def acknowledgement_source(self):
        from connectors.factory import acknowledgement_source

        return acknowledgement_source(self)

    def mailer(self):
        from connectors.factory import mailer

        return mailer(self)

    def doctor_checks(self) -> list:
        return list(self.iter_doctor_checks())

    def iter_doctor_checks(self):
        """`doctor`'s checks, each as soon as it has run (so the operator sees progress)."""
        from connectors.factory import iter_doctor_checks

        return iter_doctor_checks(self)

    def delegation_text(self) -> str:
        """`doctor --scopes`: the client ID and scope list for the Admin console's delegation entry."""
        from connectors.google.doctor import delegation_text

        return delegation_text(self.settings)

    def watch_api(self):
        """The Google calls that open and stop push channels (integration.watches.WatchApi)."""
        from connectors.google.watches import GoogleWatches

        return GoogleWatches.from_context(self)

    def api_calls(self) -> int:
        return self.google.stats.api_calls if "google" in self.__dict__ else 0


def context_from_args(args, *, migrate: bool = True) -> Context:
    return Context(settings_mod.load(getattr(args, "config", None)), migrate=migrate)
