"""Names and roles beside addresses: who an address is, from the roster and the registers.

School addresses come from the roster in clear; a personal address is named only through the
personal-address register (looked up by its keyed hash), never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from integration.store.base import current_crypto
from integration.store.models_audit import PersonalAddress
from integration.store.models_roster import Person, PersonAlias

ROLE_LABELS = {"staff": "staff", "pupil": "pupil", "former_pupil": "former pupil", "guardian": "parent or carer",
               "other": "other account"}


@dataclass(frozen=True)
class Who:
    email: str
    name: str = ""
    role: str = ""  # roster role; "" when the address is not a school account
    org_unit: str = ""
    owner: str = ""  # for a personal address in the register: the school account it belongs to
    owner_name: str = ""

    @property
    def label(self) -> str:
        """'Jo Smith (staff)', 'personal address of Amy Pupil', or the address itself."""
        if self.name:
            return f"{self.name} ({ROLE_LABELS.get(self.role, self.role)})" if self.role else self.name
        if self.owner:
            return f"personal address of {self.owner_name or self.owner}"
        return ""


def lookup(session: Session, addresses: Iterable[str | None]) -> dict[str, Who]:
    """Address (lower case) -> Who, for every non-empty address; unknown ones map to a bare Who."""
    wanted = {a.strip().lower() for a in addresses if a}
    if not wanted:
        return {}
    people: dict[str, Person] = {}
    chunk = sorted(wanted)
    for i in range(0, len(chunk), 400):
        part = chunk[i:i + 400]
        for p in session.scalars(select(Person).where(Person.email.in_(part))):
            people[p.email.lower()] = p
        for alias, p in session.execute(select(PersonAlias.address, Person).join(Person, Person.id == PersonAlias.person_id)
                                        .where(PersonAlias.address.in_(part))):
            people.setdefault(alias.lower(), p)
    out: dict[str, Who] = {}
    strangers = [a for a in wanted if a not in people]
    owners = _register_owners(session, strangers)
    owner_people = {p.email.lower(): p for p in session.scalars(select(Person).where(Person.email.in_(
        sorted(set(owners.values())))))} if owners else {}
    for address in wanted:
        p = people.get(address)
        if p is not None:
            out[address] = Who(address, p.name, p.role, p.org_unit)
        elif address in owners:
            owner = owner_people.get(owners[address])
            out[address] = Who(address, owner=owners[address], owner_name=owner.name if owner else "")
        else:
            out[address] = Who(address)
    return out


def _register_owners(session: Session, addresses: list[str]) -> dict[str, str]:
    if not addresses:
        return {}
    crypto = current_crypto()
    by_hash = {crypto.address_hash(a): a for a in addresses}
    rows = session.execute(select(PersonalAddress.address_hash, PersonalAddress.owner_email)
                           .where(PersonalAddress.address_hash.in_(list(by_hash))))
    return {by_hash[h]: owner.lower() for h, owner in rows}


def matching_emails(session: Session, text: str, limit: int = 200) -> list[str]:
    """School addresses whose owner's name or address contains ``text`` (the inbox's free-text search)."""
    like = f"%{text.lower()}%"
    return list(session.scalars(select(Person.email).where(or_(func.lower(Person.name).like(like),
                                                                func.lower(Person.email).like(like)))
                                .limit(limit)))
