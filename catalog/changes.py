"""The catalogue change feed: every committed change to what is for sale leaves a row here,
in the same transaction, so that each app node can bring its own search index in step.

A node's follower reads the rows after the last one it applied. Row ids are handed out when a
transaction inserts, not when it commits, so a slower transaction can make an id appear after
higher ones were read: the follower remembers such gaps and looks for them again for a while.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import BigInteger, Integer, delete, func, insert, or_, select
from sqlalchemy.orm import Mapped, Session, joinedload, lazyload, mapped_column

from catalog.db import Base, UTCDateTime, utcnow
from catalog.models import Product
from catalog.search import CatalogIndex

log = logging.getLogger(__name__)

#: seconds a missing id is looked for again before it is taken for a rolled-back insert
GAP_SECONDS = 120
#: more open gaps than this and the follower re-syncs the whole index instead
MAX_GAPS = 5_000
#: rows are kept this long; a node away for longer re-syncs its whole index
KEEP_FOR = timedelta(days=2)
POSITION_FILE = "change-feed.json"
BATCH = 500


class CatalogChange(Base):
    """A product, a vendor's products or a category's products changed."""

    __tablename__ = "catalog_changes"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    product_id: Mapped[int | None] = mapped_column(Integer)
    vendor_id: Mapped[int | None] = mapped_column(Integer)
    category_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


def record(
    session: Session,
    *,
    products: Iterable[int] = (),
    vendors: Iterable[int] = (),
    categories: Iterable[int] = (),
) -> None:
    """Note changes in the caller's transaction (they are seen once it commits)."""
    now = utcnow()
    rows = [
        *({"product_id": i, "created_at": now} for i in sorted(set(products)) if i is not None),
        *({"vendor_id": i, "created_at": now} for i in sorted(set(vendors)) if i is not None),
        *({"category_id": i, "created_at": now} for i in sorted(set(categories)) if i is not None),
    ]
    if rows:
        session.execute(insert(CatalogChange), rows)


def prune(session: Session, now: datetime | None = None) -> int:
    """Forget rows older than KEEP_FOR (run on one node; nodes further behind re-sync)."""
    cutoff = (now or utcnow()) - KEEP_FOR
    return session.execute(delete(CatalogChange).where(CatalogChange.created_at < cutoff)).rowcount


@dataclass
class Position:
    """The last row applied, and ids below it not seen yet (id -> when first missed)."""

    last_id: int
    gaps: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class FollowReport:
    changes: int
    products: int
    resynced: bool = False
    ok: bool = True


class ChangeFollower:
    """Applies the change feed to one node's index; its position lives beside the index."""

    def __init__(self, index: CatalogIndex, directory: str | Path) -> None:
        self._index = index
        self._file = Path(directory) / POSITION_FILE

    def follow(self, session: Session, now: float | None = None) -> FollowReport:
        now = time.time() if now is None else now
        position = self._load()
        if position is None or self._fell_behind(session, position):
            return self._resync(session)
        changes = session.execute(
            select(
                CatalogChange.id,
                CatalogChange.product_id,
                CatalogChange.vendor_id,
                CatalogChange.category_id,
            )
            .where(
                or_(CatalogChange.id > position.last_id, CatalogChange.id.in_(position.gaps))
                if position.gaps
                else CatalogChange.id > position.last_id
            )
            .order_by(CatalogChange.id)
        ).all()
        if not changes:
            if position.gaps:
                gaps = len(position.gaps)
                self._expire_gaps(position, now)
                if len(position.gaps) != gaps:
                    self._save(position)
            return FollowReport(0, 0)
        seen = {row.id for row in changes}
        top = max(position.last_id, max(seen))
        for missing in range(position.last_id + 1, top):
            if missing not in seen:
                position.gaps.setdefault(missing, now)
        for found in seen:
            position.gaps.pop(found, None)
        position.last_id = top
        self._expire_gaps(position, now)
        if len(position.gaps) > MAX_GAPS:
            return self._resync(session)
        product_ids = self._affected(session, changes)
        if not self._apply(session, product_ids):
            return FollowReport(len(changes), len(product_ids), ok=False)
        self._save(position)
        return FollowReport(len(changes), len(product_ids))

    # --------------------------------------------------------------------------------------

    def _affected(self, session: Session, changes: list) -> set[int]:  # type: ignore[type-arg]
        products = {row.product_id for row in changes if row.product_id is not None}
        vendors = {row.vendor_id for row in changes if row.vendor_id is not None}
        categories = {row.category_id for row in changes if row.category_id is not None}
        if vendors:
            products.update(
                session.scalars(select(Product.id).where(Product.vendor_id.in_(vendors)))
            )
        if categories:
            products.update(
                session.scalars(select(Product.id).where(Product.category_id.in_(categories)))
            )
        return products

    def _apply(self, session: Session, product_ids: set[int]) -> bool:
        ordered = sorted(product_ids)
        for start in range(0, len(ordered), BATCH):
            batch = ordered[start : start + BATCH]
            products = list(
                session.scalars(
                    select(Product)
                    .where(Product.id.in_(batch))
                    .options(
                        joinedload(Product.vendor),
                        joinedload(Product.category),
                        lazyload(Product.photos),
                    )
                ).unique()
            )
            if products and not self._index.index_products(products):
                return False
            gone = set(batch) - {p.id for p in products}
            if gone and not self._index.remove(gone):
                return False
        return True

    def _fell_behind(self, session: Session, position: Position) -> bool:
        oldest = session.scalar(select(func.min(CatalogChange.id)))
        return oldest is not None and oldest > position.last_id + 1

    def _resync(self, session: Session) -> FollowReport:
        # The position is taken before the sync: changes committed during it are read again.
        start = session.scalar(select(func.max(CatalogChange.id))) or 0
        if not self._index.sync(session):
            return FollowReport(0, 0, resynced=True, ok=False)
        self._save(Position(start))
        log.info("search index re-synced; following the change feed from %d", start)
        return FollowReport(0, 0, resynced=True)

    @staticmethod
    def _expire_gaps(position: Position, now: float) -> None:
        for gap, since in list(position.gaps.items()):
            if now - since > GAP_SECONDS:
                del position.gaps[gap]

    def _load(self) -> Position | None:
        try:
            data = json.loads(self._file.read_text())
            return Position(
                int(data["last_id"]), {int(k): float(v) for k, v in data.get("gaps", {}).items()}
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _save(self, position: Position) -> None:
        temporary = self._file.with_suffix(".tmp")
        try:
            temporary.write_text(
                json.dumps({"last_id": position.last_id, "gaps": position.gaps}, sort_keys=True)
            )
            temporary.replace(self._file)
        except OSError:
            log.exception("search index: cannot save the change-feed position; it is re-read")
