"""Keeping the catalogue search index in step with the database, after each commit.

Each commit that changes the catalogue also leaves rows in the change feed (catalog.changes):
the node that made the change updates its own index at once, and every node's `flask worker`
follows the feed into its own index.

Whatever changes a listing (a vendor's edit, a curator's approval, a document's expiry, a
vendor's verification) marks the products concerned during the flush; once the transaction
commits they are re-indexed. An index failure never undoes the database change: it is
logged, and `flask catalog sync-search` (or the next change) repairs it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event, select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from catalog import changes
from catalog.models import Category, Product, ProductPhoto, Vendor
from catalog.search import CatalogIndex

log = logging.getLogger(__name__)
_PENDING = "search_pending"
_indexes: dict[str, CatalogIndex] = {}
_indexes_lock = threading.Lock()


def catalog_index(directory: str | None = None) -> CatalogIndex:
    """The index of this process, opened once per directory."""
    path = directory or current_app.config["SEARCH_INDEX_DIR"]
    with _indexes_lock:
        if path not in _indexes:
            Path(path).mkdir(parents=True, exist_ok=True)
            _indexes[path] = CatalogIndex.open(path)
        return _indexes[path]


def _pending(session: Session) -> dict[str, set[int]]:
    pending: dict[str, set[int]] = session.info.setdefault(
        _PENDING, {"products": set(), "vendors": set(), "categories": set()}
    )
    return pending


def mark_vendor_changed(session: Session, vendor_id: int) -> None:
    """Re-index the vendor's products after the commit.

    For changes the flush does not see, such as a Core UPDATE of a vendor's counters.
    """
    _pending(session)["vendors"].add(vendor_id)


def _note_changes(session: Session, _context: Any) -> None:
    pending = _pending(session)
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Product):
            pending["products"].add(obj.id)
        elif isinstance(obj, ProductPhoto):
            pending["products"].add(obj.product_id)
        elif isinstance(obj, Vendor):
            pending["vendors"].add(obj.id)
        elif isinstance(obj, Category):
            pending["categories"].add(obj.id)


def _forget_changes(session: Session) -> None:
    # A savepoint rolled back leaves the rest of the transaction standing; re-indexing a few
    # products too many after its commit is harmless, missing the others' changes is not.
    if session.in_nested_transaction():
        return
    session.info.pop(_PENDING, None)


def _record_in_change_feed(session: Session) -> None:
    """Leave the changes in the catalogue change feed, in the committing transaction, so that
    every node's index follows them (see catalog.changes)."""
    if session.in_nested_transaction():
        return
    session.flush()  # what the commit would flush is noted too
    pending = session.info.get(_PENDING)
    if not pending or not any(pending.values()):
        return
    changes.record(
        session,
        products=pending["products"],
        vendors=pending["vendors"],
        categories=pending["categories"],
    )


def install(app: Flask, factory: sessionmaker[Session]) -> None:
    """Index after every commit of sessions made by `factory`."""
    directory = app.config["SEARCH_INDEX_DIR"]

    event.listen(factory, "after_flush", _note_changes)
    event.listen(factory, "after_rollback", _forget_changes)
    event.listen(factory, "before_commit", _record_in_change_feed)

    @event.listens_for(factory, "after_commit")
    def _index_after_commit(session: Session) -> None:
        if session.in_nested_transaction():  # a savepoint was released; the commit comes later
            return
        pending = session.info.pop(_PENDING, None)
        if not pending or not any(pending.values()):
            return
        try:
            with factory() as reader:
                products = _affected_products(reader, pending)
                ids = {p.id for p in products}
                catalog_index(directory).index_products(products)
                gone = pending["products"] - ids
                if gone:
                    catalog_index(directory).remove(gone)
        except Exception:  # the database change stands; the next sync repairs the index
            log.exception("search index update failed after commit")


def _affected_products(session: Session, pending: dict[str, set[int]]) -> list[Product]:
    conditions = []
    if pending["products"]:
        conditions.append(Product.id.in_(pending["products"]))
    if pending["vendors"]:
        conditions.append(Product.vendor_id.in_(pending["vendors"]))
    if pending["categories"]:
        conditions.append(Product.category_id.in_(pending["categories"]))
    if not conditions:
        return []
    from sqlalchemy import or_

    query = (
        select(Product)
        .where(or_(*conditions))
        .options(joinedload(Product.vendor), joinedload(Product.category))
    )
    return list(session.scalars(query).unique())
