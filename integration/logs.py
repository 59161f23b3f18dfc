"""Structured logs: one line per event, key=value, never secrets, tokens or personal addresses."""

from __future__ import annotations

import json
import logging
import re
import sys

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_BEARER = re.compile(r"(?i)(bearer\s+|access_token[\"'=:\s]+|assertion=|private_key[\"'=:\s]+)[A-Za-z0-9._\-/+=]+")

_school_domains: set[str] = set()


def set_school_domains(domains: list[str]) -> None:
    """Addresses in these domains are school accounts and may be logged; others are masked."""
    _school_domains.clear()
    _school_domains.update(d.lower() for d in domains)


def redact(text: str, domains: set[str] | None = None) -> str:
    """Tokens and addresses outside ``domains`` (default: the school domains set at start-up) masked."""
    text = _BEARER.sub(lambda m: m.group(1) + "***", text)
    keep = _school_domains if domains is None else domains

    def mask(m: re.Match) -> str:
        return m.group(0) if m.group(1).lower() in keep else "***@" + m.group(1)

    return _EMAIL.sub(mask, text)


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname.lower(),
                  "logger": record.name, "event": record.getMessage()}
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            fields.update(extra)
        line = " ".join(f"{k}={json.dumps(v, default=str) if not isinstance(v, str) or ' ' in v else v}"
                        for k, v in fields.items())
        if record.exc_info and record.levelno >= logging.ERROR:
            line += f" error={json.dumps(str(record.exc_info[1]))}"
        return redact(line)


def configure_logging(verbose: bool = False, quiet: bool = False) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_safechannels", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler._safechannels = True  # type: ignore[attr-defined]
    handler.setFormatter(KeyValueFormatter())
    root.addHandler(handler)
    level = logging.DEBUG if verbose else (logging.WARNING if quiet else logging.INFO)
    root.setLevel(level)
    for noisy in ("googleapiclient.discovery_cache", "googleapiclient.discovery", "googleapiclient.http", "urllib3",
                  "werkzeug",
                  "apscheduler.executors.default", "alembic.runtime.migration", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The Google client logs every retryable response; our transport logs retries once, as events.
    logging.getLogger("googleapiclient.http").setLevel(logging.ERROR)


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields) -> None:
    """Log one structured event: `event(log, "sync.done", added=3)`."""
    logger.log(level, name, extra={"fields": fields})
