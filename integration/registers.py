"""The two operator registers (CSV): personal addresses and Headteacher-approved exceptions.

Imported at the start of every audit when the file changed (sha256), row by row: a bad
row is reported with file, line and problem and the rest still load, because one typo
in a 2,000-line MIS export must not switch the register off. A re-import replaces the
register's rows in the caller's transaction, so it is idempotent and removals stick.

Per school (issue 13): a trust's schools each keep their own registers (``[[schools]]``
personal_address_register / exceptions_register), imported apart (``register_imports`` key
``personal:<school>`` / ``exceptions:<school>``) into rows carrying the school; a trust's
``[channels]`` registers are trust-wide (rows with no school), as are a single school's, which are
read exactly as before. Matching stays trust-wide: a pupil's personal address is personal at every
school, and an exception covers its staff member wherever the finding is. An address (or a staff
member and counterpart) already in another school's register is a row problem naming that school,
so a register with it is imported again on every audit and takes the row once the other drops it.

A file that is broken as a whole — not UTF-8, a wrong header, an unbalanced quote (which
would swallow every later row into one field), a field over the csv limit — is refused:
the previously loaded register stays in force and the refusal names the file and the line
(for a quote, the line where it opened). Row problems are summarised in one log line per
import (count and the first few), not one line per row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from integration.crypto import Crypto
from integration.errors import ConfigError
from integration.identity import Identity
from integration.logs import event, redact
from integration.rules.base import Candidate
from integration.settings import Settings, control_characters
from integration.store.models_audit import ChannelException, PersonalAddress, RegisterImport
from integration.store.models_roster import Person, PersonAlias
from integration.store.models_webapp import FindingException

log = logging.getLogger("safechannels.registers")

PERSONAL = "personal_addresses"
EXCEPTIONS = "exceptions"
HEADERS = {PERSONAL: ["address", "owner"], EXCEPTIONS: ["staff", "counterpart", "reason", "approved_by", "expires"]}
CONFIG_KEYS = {PERSONAL: "personal_address_register", EXCEPTIONS: "exceptions_register"}
_ADDRESS = re.compile(r"^[^@\s,;<>]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
FIRST_PROBLEMS = 5  # how many row problems a summary quotes


@dataclass
class ImportReport:
    register: str
    path: str
    loaded: int = 0
    problems: list[str] = field(default_factory=list)
    unchanged: bool = False
    refused: str = ""  # why the whole file was refused (the previous register stays in force)

    @property
    def status(self) -> str:
        return "refused" if self.refused else "unchanged" if self.unchanged else "loaded"

    def as_json(self) -> dict:
        """The `audit --json` "registers" entry (an addition to the contract)."""
        return {"file": self.path, "status": self.status, "loaded": self.loaded, "problems": len(self.problems),
                "first_problems": self.problems[:FIRST_PROBLEMS], "refused": self.refused}

    def summary(self) -> str:
        """One line for the command output."""
        if self.refused:
            return f"register {self.register} refused, the previous one stays in force: {self.refused}"
        text = f"register {self.register}: {self.loaded} row(s) " + ("unchanged" if self.unchanged else "loaded")
        if self.problems:
            more = len(self.problems) - FIRST_PROBLEMS
            text += f"; {len(self.problems)} row(s) skipped: " + "; ".join(self.problems[:FIRST_PROBLEMS]) \
                + (f"; and {more} more" if more > 0 else "")
        return text


def _address_problem(label: str, address: str) -> str | None:
    """Why ``address`` is not an email address, or None. Control characters (a NUL byte from a
    mis-saved export) are named: the address would never match what Google reports."""
    if control_characters(address):
        return f"{label} contains {control_characters(address)} (re-export the file as plain UTF-8 CSV)"
    if not _ADDRESS.match(address):
        return f"{label} {address!r} is not an email address"
    return None


def config_label(register: str, school: str | None = None) -> str:
    """The config key a register file comes from, for messages: ``[channels] …`` or ``[[schools]] <id> …``."""
    return f"[[schools]] {school} {CONFIG_KEYS[register]}" if school else f"[channels] {CONFIG_KEYS[register]}"


def import_key(register: str, school: str | None = None) -> str:
    """The ``register_imports`` key: the register's name, and for a school's own register its id
    (``exceptions:kingsmead``), kept within the column's 32 characters."""
    if not school:
        return register
    short = "personal" if register == PERSONAL else "exceptions"
    key = f"{short}:{school}"
    if len(key) > 32:
        key = f"{key[:23]}~{hashlib.sha256(school.encode()).hexdigest()[:8]}"
    return key


def _others(session: Session, model: type, school: str | None) -> dict:
    """Rows of every other school's register: their key -> the school (None = the trust-wide one)."""
    if model is PersonalAddress:
        rows = session.execute(select(PersonalAddress.address_hash, PersonalAddress.school))
        return {h: sc for h, sc in rows if sc != school}
    rows = session.execute(select(ChannelException.staff, ChannelException.counterpart_hash, ChannelException.school))
    return {(st, h): sc for st, h, sc in rows if sc != school}


def _elsewhere(school: str | None) -> str:
    return f"school {school}'s register" if school else "the trust-wide register ([channels])"


def _read(path: Path, register: str, approved: set[str],
          school: str | None = None) -> tuple[bytes, list[tuple[int, list[str]]]]:
    """The file's bytes and its data rows with their first line numbers; a file broken as a whole
    -> ConfigError naming the file and line (personal addresses in it masked: it may be stored)."""
    key = config_label(register, school)
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{path}: {key} cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: {key} is not UTF-8 text (save the CSV as UTF-8)") from None
    reader = csv.reader(io.StringIO(text), strict=True)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ConfigError(f"{path}:{start}: {key} refused: {_structural(str(exc))}") from None
    expected = HEADERS[register]
    header = rows.pop(0)[1] if rows else None
    if header is None or [h.strip().lower() for h in header] != expected:
        got = redact(",".join(header or []), approved) or "an empty file"
        raise ConfigError(f"{path}:1: {key} must start with the header line '{','.join(expected)}', got {got!r}")
    return raw, [(line, row) for line, row in rows if any(cell.strip() for cell in row)]


def _structural(error: str) -> str:
    if "unexpected end of data" in error:
        return "a quote (\") opened on this line is never closed, so every later line would be read as one field"
    if "field larger than field limit" in error:
        return (f"a field longer than {csv.field_size_limit()} characters starts on this line "
                "(most likely a quote (\") opened here is never closed)")
    return f"not a valid CSV file ({error}); check the quotes on this line"


def _school_accounts(session: Session) -> tuple[dict[str, str], dict[str, str]]:
    """(any school address -> primary, primary -> role)."""
    people = {p.id: (p.email.lower(), p.role) for p in session.scalars(select(Person))}
    addresses = {email: email for email, _ in people.values()}
    for a in session.scalars(select(PersonAlias)):
        if a.person_id in people:
            addresses.setdefault(a.address.lower(), people[a.person_id][0])
    return addresses, dict(people.values())


def _fields(row: list[str], n: int) -> list[str] | str:
    if len(row) != n:
        return f"expected {n} fields, got {len(row)}"
    return [c.strip() for c in row]


def import_personal(session: Session, path: Path, crypto: Crypto, approved: set[str],
                    now: datetime, school: str | None = None) -> ImportReport:
    """Replace the personal-address register (``school``'s, else the trust-wide / single school's)
    with the file's valid rows."""
    raw, rows = _read(path, PERSONAL, approved, school)
    report = ImportReport(import_key(PERSONAL, school), str(path))
    addresses, _ = _school_accounts(session)
    others = _others(session, PersonalAddress, school)
    seen: dict[str, int] = {}
    valid: list[PersonalAddress] = []
    for line, row in rows:
        cells = _fields(row, 2)
        problem = cells if isinstance(cells, str) else None
        if problem is None:
            address, owner = cells[0].lower(), cells[1].lower()
            digest = crypto.address_hash(address) if address else ""
            if not address or not owner:
                problem = "missing " + ("address" if not address else "owner")
            elif _address_problem("address", address):
                problem = _address_problem("address", address)
            elif address.rpartition("@")[2] in approved:
                problem = "address is in an approved school domain, not a personal address"
            elif owner not in addresses:
                problem = f"unknown owner {owner!r} (not a school account in the roster; run 'sync' first?)"
            elif digest in seen:
                problem = f"duplicate address (first on line {seen[digest]})"
            elif digest in others:
                problem = f"address already in {_elsewhere(others[digest])} (it counts at every school)"
            else:
                seen[digest] = line
                valid.append(PersonalAddress(address_hash=digest, address=address, school=school,
                                             owner_email=addresses[owner], imported_at=now))
        if problem:
            report.problems.append(f"{path.name}:{line}: {problem}")
    return _replace(PersonalAddress, valid, session, report, raw, now, school)


def new_exception_id() -> str:
    """Random (an id derived from the addresses would be a guessable hash of a personal address)."""
    return "EXC-" + secrets.token_hex(6)


def import_exceptions(session: Session, path: Path, crypto: Crypto, now: datetime,
                      approved: set[str] = frozenset(), school: str | None = None) -> ImportReport:
    """Replace the exceptions register (``school``'s, else the trust-wide / single school's) with the
    file's valid rows."""
    raw, rows = _read(path, EXCEPTIONS, set(approved), school)
    report = ImportReport(import_key(EXCEPTIONS, school), str(path))
    addresses, roles = _school_accounts(session)
    others = _others(session, ChannelException, school)
    # a re-import keeps each exception's id, so suppressed findings keep naming the same exception
    ids = {(e.staff, e.counterpart_hash): e.id for e in session.scalars(select(ChannelException))}
    seen: dict[tuple[str, str], int] = {}
    valid: list[ChannelException] = []
    for line, row in rows:
        cells = _fields(row, 5)
        problem = cells if isinstance(cells, str) else None
        if problem is None:
            staff, counterpart, reason, approved_by, expires = cells
            staff, counterpart = staff.lower(), counterpart.lower()
            missing = [n for n, v in zip(HEADERS[EXCEPTIONS], cells, strict=True) if not v]
            primary = addresses.get(staff)
            if missing:
                problem = "missing " + ", ".join(missing)
            elif primary is None or roles.get(primary) != "staff":
                problem = f"staff {staff!r} is not a staff member in the roster"
            elif _address_problem("counterpart", counterpart):
                problem = _address_problem("counterpart", counterpart)
            else:
                try:
                    until = date.fromisoformat(expires)
                except ValueError:
                    until = None
                    problem = f"expires {expires!r} is not an ISO date (YYYY-MM-DD)"
                digest = crypto.address_hash(counterpart)
                if until is not None and (primary, digest) in seen:
                    problem = f"duplicate exception for this staff member and counterpart " \
                              f"(first on line {seen[(primary, digest)]})"
                elif until is not None and (primary, digest) in others:
                    problem = (f"this staff member and counterpart already have an exception in "
                               f"{_elsewhere(others[(primary, digest)])} (it applies at every school)")
                elif until is not None:
                    seen[(primary, digest)] = line
                    valid.append(ChannelException(
                        id=ids.get((primary, digest)) or new_exception_id(), staff=primary, counterpart=counterpart,
                        school=school,
                        counterpart_hash=digest, reason=reason, approved_by=approved_by, expires=until,
                        imported_at=now))
        if problem:
            report.problems.append(f"{path.name}:{line}: {problem}")
    return _replace(ChannelException, valid, session, report, raw, now, school)


def _scope(model: type, school: str | None):
    return model.school.is_(None) if school is None else model.school == school


def _replace(model: type, valid: list, session: Session, report: ImportReport, raw: bytes,
             now: datetime, school: str | None = None) -> ImportReport:
    """A register is imported wholesale: its rows (``school``'s) become exactly the valid rows of the file."""
    session.execute(delete(model).where(_scope(model, school)))
    session.flush()
    session.add_all(valid)
    report.loaded = len(valid)
    _record(session, report, raw, now)
    return report


def _record(session: Session, report: ImportReport, raw: bytes, now: datetime) -> None:
    row = session.get(RegisterImport, report.register) or RegisterImport(register=report.register)
    row.path, row.sha256 = report.path, hashlib.sha256(raw).hexdigest()
    row.rows, row.problems, row.imported_at = report.loaded, report.problems, now
    session.add(row)
    session.flush()


def _sources(settings: Settings) -> list[tuple[str, str | None, str]]:
    """(register, school, configured path) of every register: the ``[channels]`` ones (the single
    school's, or a trust's trust-wide ones), then each trust school's own."""
    out: list[tuple[str, str | None, str]] = [(r, None, getattr(settings.channels, key)) for r, key in CONFIG_KEYS.items()]
    tenants = settings.tenants
    if tenants.is_trust:
        out += [(r, t.id, getattr(t, key)) for t in tenants.schools for r, key in CONFIG_KEYS.items()]
    return out


def _model(register: str) -> type:
    return PersonalAddress if register == PERSONAL else ChannelException


def _clear_gone(session: Session, settings: Settings) -> None:
    """The registers of schools no longer in the config go, with their rows."""
    known = {import_key(r, school) for r, school, _p in _sources(settings)}
    for row in list(session.scalars(select(RegisterImport))):
        if row.register in known or ":" not in row.register:
            continue
        register = PERSONAL if row.register.startswith("personal:") else EXCEPTIONS
        model = _model(register)
        for school in set(session.scalars(select(model.school).where(model.school.is_not(None)).distinct())):
            if import_key(register, school) == row.register:
                session.execute(delete(model).where(model.school == school))
        session.delete(row)
        event(log, "register.cleared", register=row.register)


def sync_registers(session: Session, settings: Settings, crypto: Crypto, now: datetime) -> list[ImportReport]:
    """Import each configured register whose file changed (or had problems last time)."""
    reports = []
    _clear_gone(session, settings)
    for register, school, configured in _sources(settings):
        name = import_key(register, school)
        label = config_label(register, school)
        previous = session.get(RegisterImport, name)
        if not configured:
            if previous is not None:  # the register was switched off: its rows go with it
                session.execute(delete(_model(register)).where(_scope(_model(register), school)))
                session.delete(previous)
                event(log, "register.cleared", register=name)
            continue
        path = settings.resolve(configured)
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            raise ConfigError(f"{path}: {label} cannot be read ({exc.strerror})") from None
        if previous is not None and previous.sha256 == digest and previous.path == str(path) \
                and not previous.problems:
            reports.append(ImportReport(name, str(path), previous.rows, unchanged=True))
            continue
        approved = set(settings.approved_domains)
        try:
            with session.begin_nested():  # a refused file changes nothing: the previous register stays
                if register == PERSONAL:
                    report = import_personal(session, path, crypto, approved, now, school)
                else:
                    report = import_exceptions(session, path, crypto, now, approved, school)
        except ConfigError as exc:
            report = ImportReport(name, str(path), previous.rows if previous else 0, refused=str(exc))
            event(log, "register.refused", logging.ERROR, register=name, error=str(exc),
                  kept_rows=report.loaded)
            reports.append(report)
            continue
        if report.problems and report.problems != (previous.problems if previous else None):
            event(log, "register.bad_rows", logging.WARNING, register=name, count=len(report.problems),
                  first=report.problems[:FIRST_PROBLEMS])
        event(log, "register.imported", register=name, loaded=report.loaded, problems=len(report.problems))
        reports.append(report)
    return reports


def masked_summary(reports: list[ImportReport], settings: Settings) -> dict:
    """The reports for the ``runs`` row: what an admin may see, personal addresses masked."""
    approved = set(settings.approved_domains)
    return {r.register: {k: ([redact(p, approved) for p in v] if k == "first_problems" else
                             redact(v, approved) if isinstance(v, str) else v) for k, v in r.as_json().items()}
            for r in reports}


@dataclass(frozen=True)
class _Exception:
    id: str
    expires: date
    keys: frozenset[tuple[str, str]]


class ExceptionIndex:
    """Exceptions by staff member; a counterpart covers the person's school and attributed addresses."""

    def __init__(self, identity: Identity, today: date):
        self._identity = identity
        self._today = today
        self._by_staff: dict[str, list[_Exception]] = {}

    @classmethod
    def load(cls, session: Session, identity: Identity, today: date) -> ExceptionIndex:
        index = cls(identity, today)
        for exc in session.scalars(select(ChannelException)):
            index.add(exc.id, exc.staff, exc.counterpart, exc.expires)
        # exceptions approved on a finding's page count exactly like register rows (not replaced by imports)
        for added in session.scalars(select(FindingException)):
            index.add(added.id, added.staff, added.counterpart, added.expires)
        return index

    def _keys(self, address: str | None) -> set[tuple[str, str]]:
        if not address:
            return set()
        keys = {("addr", self._identity.address_hash(address.lower()))}
        person = self._identity.resolve(address.lower()).person_email
        if person:
            keys.add(("person", person))
        return keys

    def add(self, exc_id: str, staff: str, counterpart: str, expires: date) -> None:
        primary = self._identity.person(staff) or staff.lower()
        self._by_staff.setdefault(primary, []).append(_Exception(exc_id, expires, frozenset(self._keys(counterpart))))

    def match(self, c: Candidate) -> str | None:
        """The id of an unexpired exception covering this candidate, else None (expired ones never match)."""
        if not c.staff or c.staff not in self._by_staff:
            return None
        keys = self._keys(c.counterpart) | self._keys(c.guardian)
        if c.pupil:
            keys.add(("person", c.pupil))
        best = None
        for exc in self._by_staff[c.staff]:
            if exc.expires >= self._today and not exc.keys.isdisjoint(keys) \
                    and (best is None or exc.expires > best.expires):
                best = exc
        return best.id if best else None
