"""The demo transport: one ``.eml`` file per email in ``[alerts] outbox_dir``, written atomically.

The file name comes from the Message-ID, so a resend of the same outbox row replaces the file
rather than adding a second one.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from connectors.mail.message import build_message
from integration.errors import SourceRefused
from integration.protocols import Check, OutgoingEmail


class OutboxDirMailer:
    name = "outbox"

    def __init__(self, directory: Path, from_address: str):
        self.directory = Path(directory)
        self.from_address = from_address or "safechannels@localhost"

    def path_for(self, email: OutgoingEmail) -> Path:
        ident = email.message_id or f"{email.subject}|{','.join(email.to)}"
        return self.directory / (hashlib.sha256(ident.encode("utf-8")).hexdigest()[:24] + ".eml")

    def send(self, email: OutgoingEmail) -> None:
        data = build_message(email, self.from_address).as_bytes()
        target = self.path_for(email)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".eml")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except PermissionError as exc:
            raise SourceRefused(f"outbox: cannot write to {self.directory}: {exc.strerror}", api="outbox",
                                fix="make [alerts] outbox_dir writable by the service", reason="permission") from None

    def check(self) -> list[Check]:
        ok = os.access(self.directory if self.directory.exists() else self.directory.parent, os.W_OK)
        return [Check("alerts outbox directory", ok, str(self.directory),
                      "" if ok else "make [alerts] outbox_dir writable by the service")]
