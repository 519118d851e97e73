"""The hub's copy of the service-item catalogue: its tables and the few statements on them.

- ``catalogue_item``: one row per item ever seen, the item as JSON (``payload``) beside the
  columns a filter or an operator reads. A withdrawn item keeps its row (``status``), so every
  replica learns of the withdrawal; reads drop it. ``terms`` is the item's search terms and
  vocabulary as JSON (``hub.catalogue.analysis``), computed with ``terms_version``.
- ``revision`` numbers the writes: each write batch takes the next one (``catalogue_sync``) and
  stamps the rows it changed, so a replica asks only for ``revision > what it has``.
- ``catalogue_guide``: scenarios (summaries and guides), public services and disclosures,
  replaced together by each refresh of them.
- ``catalogue_sync``: the sync cursor (``changes_until``, the last ``until`` of the changes
  feed), when the last full sync and refresh succeeded, the last error; ``analysis``, what every
  query needs besides the items' words (``hub.catalogue.analysis.Base``, as JSON).
- ``catalogue_lease``: which process refreshes (``owner``) until when, taken atomically by one
  conditional ``UPDATE`` (the same on SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, delete, select

NAME = "catalogue"


class CatalogueItem(SQLModel, table=True):
    """One item of the catalogue as last seen; ``life_stages``/``groups``/``channels`` are
    ``|a|b|`` so ``LIKE '%|a|%'`` filters them on any database."""

    __tablename__ = "catalogue_item"

    impl_code: str = Field(primary_key=True, max_length=64)
    local_code: str = Field(max_length=32, index=True)
    name: str = Field(max_length=128)
    dept_code: str = Field(max_length=32, index=True)
    kind: str = Field(max_length=16)
    instant: bool
    life_stages: str = Field(max_length=256)
    groups: str = Field(max_length=256)
    channels: str = Field(max_length=128)
    status: str = Field(max_length=16, index=True)
    position: int
    updated_at: datetime
    revision: int = Field(index=True)
    payload: str
    terms: str | None = None
    terms_version: str | None = Field(default=None, max_length=32)


class CatalogueGuide(SQLModel, table=True):
    """A scenario, public service or disclosure (``kind``), as JSON, in upstream order."""

    __tablename__ = "catalogue_guide"

    kind: str = Field(primary_key=True, max_length=16)
    id: str = Field(primary_key=True, max_length=64)
    position: int
    payload: str


class CatalogueSync(SQLModel, table=True):
    """Where the copy stands: one row (``name = "catalogue"``)."""

    __tablename__ = "catalogue_sync"

    name: str = Field(primary_key=True, max_length=16)
    revision: int = 0
    guides_revision: int = 0
    changes_until: datetime | None = None
    full_synced_at: datetime | None = None
    guides_synced_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=512)
    last_error_at: datetime | None = None
    analysis: str | None = None


class CatalogueLease(SQLModel, table=True):
    """Who refreshes the copy (one process at a time) and until when."""

    __tablename__ = "catalogue_lease"

    name: str = Field(primary_key=True, max_length=16)
    owner: str = Field(max_length=128)
    expires_at: datetime


@dataclass(frozen=True)
class ItemRow:
    """What a write puts in ``catalogue_item`` (``hub.catalogue.codec`` makes it)."""

    impl_code: str
    local_code: str
    name: str
    dept_code: str
    kind: str
    instant: bool
    life_stages: tuple[str, ...]
    groups: tuple[str, ...]
    channels: tuple[str, ...]
    status: str
    updated_at: datetime
    payload: str
    terms: str | None = None
    """The item's search terms (``hub.catalogue.analysis``), if computed, of ``terms_version``."""
    terms_version: str | None = None


@dataclass(frozen=True)
class SyncState:
    """``catalogue_sync`` as read (times in UTC)."""

    revision: int = 0
    guides_revision: int = 0
    changes_until: datetime | None = None
    full_synced_at: datetime | None = None
    guides_synced_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None

    @property
    def failing(self) -> bool:
        """The last refresh failed (and none succeeded since)."""
        if self.last_error_at is None:
            return False
        return self.last_success_at is None or self.last_error_at > self.last_success_at


def utc(moment: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back: they were stored as UTC."""
    if moment is None:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


_COLUMNS = tuple(name for name in CatalogueItem.model_fields if name != "impl_code")


def _bars(values: Iterable[str]) -> str:
    return "|" + "|".join(values) + "|" if values else ""


def _sync_row(session: Session) -> CatalogueSync:
    row = session.get(CatalogueSync, NAME)
    if row is None:
        row = CatalogueSync(name=NAME)
        session.add(row)
        session.flush()
    return row


def read_state(session: Session) -> SyncState:
    row = session.get(CatalogueSync, NAME)
    if row is None:
        return SyncState()
    return SyncState(
        revision=row.revision,
        guides_revision=row.guides_revision,
        changes_until=utc(row.changes_until),
        full_synced_at=utc(row.full_synced_at),
        guides_synced_at=utc(row.guides_synced_at),
        last_success_at=utc(row.last_success_at),
        last_error=row.last_error,
        last_error_at=utc(row.last_error_at),
    )


def write_items(
    session: Session,
    rows: Sequence[ItemRow],
    *,
    full: bool,
    changes_until: datetime,
    at: datetime,
    analysis: str | None = None,
) -> int:
    """Upsert ``rows`` (all of them when ``full``: the rows missing are withdrawn) under the
    next revision; move the cursor; store ``analysis`` if given. Returns how many rows
    changed. One transaction. A row whose payload and status are unchanged keeps its
    revision; terms given for it replace those it has (another version's, or none)."""
    sync = session.exec(
        select(CatalogueSync).where(CatalogueSync.name == NAME).with_for_update()
    ).first() or _sync_row(session)
    revision = sync.revision + 1
    known = select(CatalogueItem)
    if not full:  # a change batch reads only its own rows
        known = known.where(col(CatalogueItem.impl_code).in_([row.impl_code for row in rows]))
    existing = {row.impl_code: row for row in session.exec(known).all()}
    last = session.exec(select(func.max(CatalogueItem.position))).one()
    last = -1 if last is None else int(last)
    changed = 0
    for index, row in enumerate(rows):
        old = existing.pop(row.impl_code, None)
        same = old is not None and old.payload == row.payload
        if old is not None and same and old.status == row.status:
            if full and old.position != index:
                old.position = index
                session.add(old)
            if row.terms is not None and (old.terms, old.terms_version) != (
                row.terms,
                row.terms_version,
            ):
                old.terms, old.terms_version = row.terms, row.terms_version
                session.add(old)
            continue
        terms, terms_version = row.terms, row.terms_version
        if terms is None and old is not None and same:  # only the status changed
            terms, terms_version = old.terms, old.terms_version
        if old is None:
            last += 1
        position = index if full else (last if old is None else old.position)
        fresh = CatalogueItem(
            impl_code=row.impl_code,
            local_code=row.local_code,
            name=row.name,
            dept_code=row.dept_code,
            kind=row.kind,
            instant=row.instant,
            life_stages=_bars(row.life_stages),
            groups=_bars(row.groups),
            channels=_bars(row.channels),
            status=row.status,
            position=position,
            updated_at=row.updated_at,
            revision=revision,
            payload=row.payload,
            terms=terms,
            terms_version=terms_version,
        )
        if old is None:  # a new row: added, not merged (a merge would SELECT each one)
            session.add(fresh)
        else:
            for column in _COLUMNS:
                setattr(old, column, getattr(fresh, column))
            session.add(old)
        changed += 1
    if full:
        for gone in existing.values():  # no longer listed upstream: withdrawn
            if gone.status != "withdrawn":
                gone.status, gone.revision = "withdrawn", revision
                session.add(gone)
                changed += 1
        sync.full_synced_at = at
    if changed:
        sync.revision = revision
    sync.changes_until = changes_until
    sync.last_success_at = at
    if analysis is not None:
        sync.analysis = analysis
    session.add(sync)
    session.commit()
    return changed


def write_guides(session: Session, guides: Sequence[tuple[str, str, str]], *, at: datetime) -> None:
    """Replace every guide by ``(kind, id, payload)`` rows, in their order."""
    sync = _sync_row(session)
    session.exec(delete(CatalogueGuide))
    for position, (kind, key, payload) in enumerate(guides):
        session.add(CatalogueGuide(kind=kind, id=key, position=position, payload=payload))
    sync.guides_revision += 1
    sync.guides_synced_at = sync.last_success_at = at
    session.add(sync)
    session.commit()


def record_error(session: Session, error: str, *, at: datetime) -> None:
    sync = _sync_row(session)
    sync.last_error, sync.last_error_at = error[:512], at
    session.add(sync)
    session.commit()


def items_since(session: Session, revision: int) -> list[CatalogueItem]:
    """Rows written after ``revision``, in catalogue order."""
    statement = (
        select(CatalogueItem)
        .where(CatalogueItem.revision > revision)
        .order_by(col(CatalogueItem.position), col(CatalogueItem.impl_code))
    )
    return list(session.exec(statement).all())


def current_terms(
    session: Session, version: str, codes: Sequence[str] | None = None
) -> dict[str, str]:
    """``impl_code → payload`` of the rows (of ``codes``, or all) whose terms are of
    ``version``: a row written again with that payload needs no new terms."""
    statement = select(CatalogueItem.impl_code, CatalogueItem.payload).where(
        CatalogueItem.terms_version == version
    )
    if codes is not None:
        statement = statement.where(col(CatalogueItem.impl_code).in_(list(codes)))
    return {code: payload for code, payload in session.exec(statement).all()}


def stale_terms(session: Session, version: str, limit: int) -> list[CatalogueItem]:
    """Active rows whose terms are missing or of another version (at most ``limit``)."""
    statement = (
        select(CatalogueItem)
        .where(
            CatalogueItem.status == "active",
            col(CatalogueItem.terms_version).is_(None)
            | (col(CatalogueItem.terms_version) != version),
        )
        .order_by(col(CatalogueItem.position), col(CatalogueItem.impl_code))
        .limit(limit)
    )
    return list(session.exec(statement).all())


def write_terms(session: Session, terms: Iterable[tuple[str, int, str]], version: str) -> int:
    """Store ``(impl_code, revision, terms)`` on rows still at that revision (a row written
    since has a payload those terms are not of). The revision stays: the row's item is the
    same. Returns how many rows took them."""
    stored = 0
    for code, revision, text in terms:
        result = session.execute(
            update(CatalogueItem)
            .where(col(CatalogueItem.impl_code) == code, col(CatalogueItem.revision) == revision)
            .values(terms=text, terms_version=version)
        )
        stored += int(result.rowcount)  # type: ignore[attr-defined]
    session.commit()
    return stored


def read_analysis(session: Session) -> str | None:
    row = session.get(CatalogueSync, NAME)
    return None if row is None else row.analysis


def write_analysis(session: Session, analysis: str) -> None:
    sync = _sync_row(session)
    sync.analysis = analysis
    session.add(sync)
    session.commit()


def guides(session: Session) -> list[CatalogueGuide]:
    statement = select(CatalogueGuide).order_by(col(CatalogueGuide.position))
    return list(session.exec(statement).all())


def active_count(session: Session) -> int:
    statement = (
        select(func.count()).select_from(CatalogueItem).where(CatalogueItem.status == "active")
    )
    return int(session.exec(statement).one())


def take_lease(session: Session, owner: str, *, now: datetime, ttl_s: float) -> bool:
    """Hold (or renew) the refresh lease for ``ttl_s`` if it is free, expired or ours.

    One conditional ``UPDATE``: of two processes racing, the database lets one match."""
    expires = now + timedelta(seconds=ttl_s)
    taken = session.execute(
        update(CatalogueLease)
        .where(
            col(CatalogueLease.name) == NAME,
            (col(CatalogueLease.owner) == owner) | (col(CatalogueLease.expires_at) < now),
        )
        .values(owner=owner, expires_at=expires)
    )
    session.commit()
    if taken.rowcount == 1:  # type: ignore[attr-defined]
        return True
    if session.get(CatalogueLease, NAME) is not None:
        return False
    try:
        session.add(CatalogueLease(name=NAME, owner=owner, expires_at=expires))
        session.commit()
    except IntegrityError:  # another process inserted it first: theirs
        session.rollback()
        return False
    return True


def release_lease(session: Session, owner: str) -> None:
    """Let another process take the lease at once (a clean stop)."""
    session.execute(
        update(CatalogueLease)
        .where(col(CatalogueLease.name) == NAME, col(CatalogueLease.owner) == owner)
        .values(expires_at=datetime(1970, 1, 1, tzinfo=UTC))
    )
    session.commit()


def lease_holder(session: Session) -> tuple[str, datetime] | None:
    row = session.get(CatalogueLease, NAME)
    if row is None:
        return None
    expires = utc(row.expires_at)
    assert expires is not None
    return row.owner, expires
