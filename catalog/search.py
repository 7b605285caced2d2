"""Product search for buyers: a Whoosh index of orderable products, with facets and "did you mean".

The index is a cache of the database. Callers update it only AFTER their database commit, and
nothing here raises on a failed write: it logs, returns False, and the next `sync` repairs it.
When the index cannot be read (corrupt or missing files), `search` raises `SearchUnavailable`
and callers answer from `database_search` instead; `rebuild` starts a fresh index in its place.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import itertools
import logging
import math
import os
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import accumulate, chain, islice, repeat
from operator import add, neg
from pathlib import Path
from typing import Any, Literal, NamedTuple, get_args

from sqlalchemy import Select, case, select
from sqlalchemy.orm import Session, lazyload
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.filedb.filestore import FileStorage
from whoosh.index import FileIndex, Index, LockError
from whoosh.matching import Matcher
from whoosh.reading import IndexReader
from whoosh.writing import CLEAR, SegmentWriter

from catalog.db import utcnow
from catalog.models import Product, Vendor
from catalog.search_analysis import (
    ProductDocument,
    analyse_query,
    build_document,
    build_schema,
    corrected_query,
)
from catalog.services import orderable_products_query

log = logging.getLogger(__name__)

Sort = Literal["relevance", "price_asc", "price_desc", "newest", "rating"]
SORTS: tuple[str, ...] = get_args(Sort)


@dataclass(frozen=True)
class PriceBucket:
    """A price range offered as a facet; bounds are inclusive rupiah, as the filters take them."""

    key: str
    price_min: int
    price_max: int | None


PRICE_BUCKETS = (
    PriceBucket("0-24999", 0, 24_999),
    PriceBucket("25000-49999", 25_000, 49_999),
    PriceBucket("50000-99999", 50_000, 99_999),
    PriceBucket("100000-499999", 100_000, 499_999),
    PriceBucket("500000-", 500_000, None),
)
#: "Deliverable within N hours" facet values; counts are cumulative (24 h is also within 48 h).
LEAD_TIME_BUCKETS = (24, 48, 72)

#: Below this many results, a query with words unknown to the index gets a "did you mean".
FEW_RESULTS = 3
#: results kept per index version, for requests asked again (the first catalogue page, above all)
REMEMBERED_RESULTS = 256
#: numbers the states of the index this process has read (see `SearchResult.version`)
_versions = itertools.count(1)
#: How quickly repeated mentions of a word stop adding to a product's score (as BM25's k1).
SATURATION = 3.0
#: Added to the score of a product whose whole name is the query, to rank it first.
EXACT_NAME_BONUS = 1000.0
BATCH_SIZE = 500
WATERMARK_FILE = "catalog-sync-watermark"
#: Whoosh's name for the one index in the directory, and the lock every writer of it takes.
INDEX_NAME = "MAIN"
WRITE_LOCK = f"{INDEX_NAME}_WRITELOCK"
#: A row's updated_at is set at flush, and it becomes visible only at commit, possibly after a
#: sync started. Re-reading this much history each sync catches such late commits.
SYNC_OVERLAP = timedelta(minutes=5)


class SearchUnavailable(Exception):
    """The index cannot be read now; answer from `database_search` until it is rebuilt."""


@dataclass(frozen=True)
class SearchResult:
    ids: list[int]
    total: int
    page: int
    pages: int
    #: corrected query text for a "did you mean" link, if it finds more
    suggestion: str | None = None
    #: facet name -> value -> count; names: category, tag, price, district, scale, lead_time
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    #: the query found nothing, so ids/total/facets are those of `suggestion`
    showing_suggestion: bool = False
    #: which state of the index answered, unique within the process and changed by every
    #: change of the index (0: not from the index); what was derived from this result stays
    #: right for as long as the index answers with the same version
    version: int = field(default=0, compare=False)
    #: the same version as other processes using this index name it ("" if not from the index)
    version_name: str = field(default="", compare=False)


class IndexVersion(NamedTuple):
    """A state of the index: `number` within this process, `name` across processes."""

    number: int
    name: str


@dataclass(frozen=True)
class _Request:
    text: str
    category: str | None
    tags: frozenset[str]
    price_min: int | None
    price_max: int | None
    district: str | None
    scale: str | None
    within_hours: int | None
    sort: str
    page: int
    page_size: int
    with_facets: bool

    def filters(self, facet: str) -> bool:
        """Whether the filter of this facet is set."""
        if facet == "price":
            return self.price_min is not None or self.price_max is not None
        if facet == "lead_time":
            return self.within_hours is not None
        return bool(getattr(self, facet))


class CatalogIndex:
    """The search index of orderable products, in one directory shared by all processes."""

    def __init__(self, ix: Index | None, directory: Path, lock_timeout: float) -> None:
        # None while the files cannot be opened: every use tries again, `rebuild` starts afresh.
        self._ix = ix
        self._directory = directory
        self._lock_timeout = lock_timeout
        # A reader must not be replaced while another thread is using it.
        self._lock = threading.Lock()
        self._reader: IndexReader | None = None
        self._columns: _Columns | None = None
        self._segments: dict[str, _SegmentColumns] = {}
        self._codec = _FacetCodec()

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, lock_timeout: float = 2.0) -> CatalogIndex:
        """Open the index in `path`, creating an empty one if there is none.

        `lock_timeout` is how long a write waits for another process's writer to finish.
        A broken index (unreadable table of contents, segments without one) is not an error
        here: searches raise `SearchUnavailable` until `rebuild` replaces it.
        """
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        try:
            ix = _open_existing(directory) or _create(directory)
        except Exception:
            log.exception("search index in %s cannot be opened; rebuild it", directory)
            ix = None
        return cls(ix, directory, lock_timeout)

    @staticmethod
    def check(path: str | os.PathLike[str]) -> None:
        """Raise `SearchUnavailable` if the index in `path` cannot be read; a directory with no
        index yet is fine (the first use creates one)."""
        directory = Path(path)
        try:
            if directory.exists() and not directory.is_dir():
                raise NotADirectoryError(f"search index path {directory} is not a directory")
            ix = _open_existing(directory)
            if ix is None:
                return
            with _closing_on_failure(ix), ix.reader() as reader:
                for leaf, _offset in reader.leaf_readers():
                    leaf.doc_count_all()
                    if leaf.segment() is not None:
                        next(iter(leaf.all_stored_fields()), None)
        except SearchUnavailable:
            raise
        except Exception as error:
            raise SearchUnavailable(f"search index in {directory}: {error!r}") from error

    def close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
            self._reader, self._columns = None, None
            self._segments.clear()

    def __enter__(self) -> CatalogIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Reading -------------------------------------------------------------------------------

    def search(
        self,
        text: str = "",
        *,
        category: str | None = None,
        tags: Collection[str] = (),
        price_min: int | None = None,
        price_max: int | None = None,
        district: str | None = None,
        scale: str | None = None,
        deliverable_within_hours: int | None = None,
        sort: Sort = "relevance",
        page: int = 1,
        page_size: int = 24,
        with_facets: bool = True,
    ) -> SearchResult:
        """One page of the products matching every word of `text` (empty: all) and the filters.

        Facet counts are for the text and the other filters: a facet's own filter is left out
        of its counts so that the page can offer the alternatives (tags, which combine with AND,
        are the exception). Without text, "relevance" sorts by newest.
        """
        if sort not in SORTS:
            raise ValueError(f"unknown sort {sort!r}")
        request = _Request(
            text=text,
            category=category or None,
            tags=frozenset(tags),
            price_min=price_min,
            price_max=price_max,
            district=district or None,
            scale=scale or None,
            within_hours=deliverable_within_hours,
            sort=sort,
            page=page,
            page_size=max(1, page_size),
            with_facets=with_facets,
        )
        with self._lock:
            try:
                reader, columns = self._current()
                result = columns.remembered(request)
                if result is None:
                    result = _run(reader, columns, request)
                    if text.strip() and result.total < FEW_RESULTS:
                        result = _with_suggestion(reader, columns, request, result)
                    result = replace(
                        result, version=columns.version, version_name=columns.version_name
                    )
                    columns.remember(request, result)
            except Exception as error:
                self._forget_reader()
                raise SearchUnavailable(f"search index in {self._directory}: {error!r}") from error
            return result

    def version(self) -> IndexVersion:
        """The version of the index that `search` answers from now (see `SearchResult.version`);
        cheap, for looking up what was derived from an earlier result."""
        with self._lock:
            try:
                _, columns = self._current()
            except Exception as error:
                self._forget_reader()
                raise SearchUnavailable(f"search index in {self._directory}: {error!r}") from error
            return IndexVersion(columns.version, columns.version_name)

    def indexed_ids(self) -> set[int]:
        """Product ids in the index now."""
        with self._lock:
            _, columns = self._current()
            return {columns.product_id[d] for d in columns.live}

    def indexed_ratings(self) -> dict[int, tuple[int, int]]:
        """Product id -> (vendor rating in tenths, number of ratings), as the index holds them."""
        with self._lock:
            _, columns = self._current()
            return {
                columns.product_id[d]: (columns.rating[d], columns.rating_count[d])
                for d in columns.live
            }

    def _index(self) -> Index:
        if self._ix is None:
            self._ix = _open_existing(self._directory)
            if self._ix is None:
                raise SearchUnavailable(f"no search index in {self._directory}")
        return self._ix

    def _forget_reader(self) -> None:
        # After a failed read nothing cached can be trusted; the next use opens afresh.
        if self._reader is not None:
            with contextlib.suppress(Exception):
                self._reader.close()
        self._reader, self._columns = None, None
        self._segments.clear()

    def _current(self) -> tuple[IndexReader, _Columns]:
        # A commit by any process makes the reader stale; a fresh one is opened rather than
        # "refreshed": in whoosh-reloaded 2.7.5, Searcher.refresh() reuses segment readers
        # that keep showing deleted documents, and brings back segments a CLEAR commit dropped.
        ix = self._index()
        if self._reader is not None and self._reader.generation() != ix.latest_generation():
            self._reader.close()
            self._reader, self._columns = None, None
        if self._reader is None:
            with _closing_on_failure(ix):
                self._reader = ix.reader()
        if self._columns is None:
            self._columns = self._load_columns(self._reader)
        return self._reader, self._columns

    def _load_columns(self, reader: IndexReader) -> _Columns:
        # Each segment's values are read once: after a small update only the new segment is
        # read and the big one is reused. Deleted documents just drop out of `live`.
        segments: dict[str, _SegmentColumns] = {}
        parts: list[_SegmentColumns] = []
        live: set[int] = set()
        for leaf, offset in reader.leaf_readers():
            segment = leaf.segment()
            if segment is None:  # an empty index has a reader without segments
                continue
            segment_id = segment.segment_id()
            part = self._segments.get(segment_id) or _SegmentColumns(leaf, self._codec)
            segments[segment_id] = part
            parts.append(part)
            live.update(range(offset, offset + leaf.doc_count_all()))
            if leaf.has_deletions():
                live.difference_update(offset + d for d in leaf.deleted_docs_set)
        self._segments = segments
        columns = _Columns(parts, live, self._codec)
        # Segment names are random and a commit raises the generation, so together they name
        # this state of the index for every process that reads it.
        state = f"{reader.generation()}:{','.join(sorted(segments))}"
        columns.version_name = (
            f"{reader.generation()}-{hashlib.sha256(state.encode()).hexdigest()[:16]}"
        )
        return columns

    # Writing -------------------------------------------------------------------------------

    def index_products(self, products: Iterable[Product]) -> bool:
        """Add or update the orderable ones of `products`, and remove the others.

        Call after the database commit. Returns False (and logs) if the index was not updated.
        """
        try:
            documents: list[ProductDocument] = []
            removed: list[int] = []
            for product in products:
                if product.is_orderable:
                    documents.append(product_document(product))
                else:
                    removed.append(product.id)
        except Exception:
            log.exception("search index: could not read products; the next sync repairs it")
            return False
        return self._write("index products", _updater(documents, removed))

    def remove(self, product_ids: Iterable[int]) -> bool:
        """Remove products from the index (call after the database commit)."""
        return self._write("remove products", _updater((), list(product_ids)))

    def load_documents(self, documents: Iterable[ProductDocument], *, clear: bool = False) -> bool:
        """Write prepared documents; with `clear`, they replace the whole index in one commit."""

        def add_all(writer: SegmentWriter) -> None:
            add = writer.add_document if clear else writer.update_document
            for document in documents:
                add(**document)

        return self._write("load documents", add_all, clear=clear)

    def rebuild(self, session: Session) -> bool:
        """Replace the index with every orderable product in the database.

        Searches see the old index until the single final commit. An index that cannot be
        read is first replaced by an empty one.
        """
        started = utcnow()
        if not self._readable() and not self._start_afresh():
            return False
        query = (
            _orderable_products()
            .order_by(None)
            .order_by(Product.id)
            .execution_options(yield_per=BATCH_SIZE)
        )

        def documents() -> Iterator[ProductDocument]:
            # Read only once the writer is ours, in batches, straight into the new segment.
            for product in session.scalars(query):
                yield product_document(product)

        if not self.load_documents(documents(), clear=True):
            return False
        self._save_watermark(started - SYNC_OVERLAP)
        return True

    def sync(self, session: Session) -> bool:
        """Repair the index after missed updates: re-index products changed since the last
        sync and those whose vendor's rating changed, add orderable products it lacks, and
        drop those no longer orderable."""
        started = utcnow()
        watermark = self._load_watermark()
        if watermark is None:
            return self.rebuild(session)
        try:
            vendor_of = {p: v for p, v in session.execute(_orderable_ids_query())}
            orderable = set(vendor_of)
            indexed = self.indexed_ratings()
            changed = _orderable_products().where(Product.updated_at > watermark)
            documents = {p.id: product_document(p) for p in session.scalars(changed)}
            # A rating changes the vendor's row, not the product's: compare the values.
            ratings = _vendor_ratings(session, set(vendor_of.values()))
            stale = {
                p
                for p, rated in indexed.items()
                if p in orderable and rated != ratings.get(vendor_of[p])
            }
            missing_ids = ((orderable - indexed.keys()) | stale) - documents.keys()
            for batch in _batched(sorted(missing_ids), BATCH_SIZE):
                missing = _orderable_products().where(Product.id.in_(batch))
                documents.update((p.id, product_document(p)) for p in session.scalars(missing))
            removed = sorted(indexed.keys() - orderable)
        except Exception:
            log.exception("search index: sync could not read the database")
            return False
        if not self._write("sync", _updater(documents.values(), removed)):
            return False
        log.info("search index synced: %d updated, %d removed", len(documents), len(removed))
        self._save_watermark(started - SYNC_OVERLAP)
        return True

    def _write(
        self, what: str, apply: Callable[[SegmentWriter], None], clear: bool = False
    ) -> bool:
        writer = self._acquire_writer(what)
        if writer is None:
            return False
        try:
            apply(writer)
            if clear:
                writer.commit(mergetype=CLEAR)
            else:
                writer.commit()
        except Exception:
            log.exception("search index: %s failed; the next sync repairs it", what)
            with contextlib.suppress(Exception):
                writer.cancel()
            return False
        return True

    def _readable(self) -> bool:
        with self._lock:
            try:
                self._current()
            except Exception:
                self._forget_reader()
                log.warning("search index in %s cannot be read", self._directory, exc_info=True)
                return False
            return True

    def _start_afresh(self) -> bool:
        """Replace an unreadable index by an empty one, holding the writers' lock meanwhile."""
        lock = FileStorage(str(self._directory)).lock(WRITE_LOCK)
        deadline = time.monotonic() + self._lock_timeout
        while not lock.acquire(blocking=False):
            if time.monotonic() > deadline:
                log.warning("search index locked; cannot replace the unreadable index now")
                return False
            time.sleep(0.05)
        try:
            with self._lock:
                self._forget_reader()
                self._ix = _create(self._directory)
        except Exception:
            log.exception("search index: cannot start a new index in %s", self._directory)
            return False
        finally:
            lock.release()
        log.warning("search index in %s was unreadable; started a new one", self._directory)
        return True

    def _acquire_writer(self, what: str) -> SegmentWriter | None:
        # Whoosh allows one writer per index across processes. Another one usually finishes
        # within milliseconds, so wait a little, backing off, rather than fail at once.
        deadline = time.monotonic() + self._lock_timeout
        delay = 0.01
        while True:
            try:
                return self._index().writer()
            except LockError:
                if time.monotonic() + delay > deadline:
                    log.warning("search index locked; %s skipped until the next sync", what)
                    return None
                time.sleep(delay)
                delay = min(delay * 2, 0.25)
            except Exception:
                log.exception("search index: cannot open a writer for %s", what)
                return None

    def _load_watermark(self) -> datetime | None:
        try:
            return datetime.fromisoformat((self._directory / WATERMARK_FILE).read_text().strip())
        except (OSError, ValueError):
            return None

    def _save_watermark(self, moment: datetime) -> None:
        # Beside the index files (Whoosh only cleans up its own file names), replaced atomically.
        target = self._directory / WATERMARK_FILE
        temporary = target.with_suffix(".tmp")
        try:
            temporary.write_text(moment.isoformat())
            temporary.replace(target)
        except OSError:
            log.exception("search index: cannot save the sync watermark; next sync redoes more")


class _Storage(FileStorage):
    """Whoosh's file storage, able to close what a failed read left open.

    Whoosh leaves a file open when it cannot parse it (a corrupt table of contents or
    segment); the files opened during a read that fails are closed here instead.
    """

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self._tracking = threading.local()

    def open_file(self, name: str, **kwargs: Any) -> Any:
        opened = super().open_file(name, **kwargs)
        files = getattr(self._tracking, "files", None)
        if files is not None:
            files.append(opened)
        return opened

    @contextlib.contextmanager
    def closing_on_failure(self) -> Iterator[None]:
        self._tracking.files = files = []
        try:
            yield
        except BaseException:
            for opened in files:
                with contextlib.suppress(Exception):
                    opened.close()
            raise
        finally:
            self._tracking.files = None


def _closing_on_failure(ix: Index) -> contextlib.AbstractContextManager[None]:
    storage = getattr(ix, "storage", None)
    if isinstance(storage, _Storage):
        return storage.closing_on_failure()
    return contextlib.nullcontext()


def _create(directory: Path) -> Index:
    return FileIndex.create(_Storage(str(directory)), build_schema(), INDEX_NAME)


def _open_existing(directory: Path) -> Index | None:
    """The index in `directory`, None if there is none; raises if it is there but unreadable."""
    if not directory.is_dir():
        return None
    names = os.listdir(directory)
    if not any(n.startswith(f"_{INDEX_NAME}_") and n.endswith(".toc") for n in names):
        if any(n.endswith(".seg") for n in names):
            raise SearchUnavailable(f"search index in {directory} has lost its table of contents")
        return None
    # This code's schema, not the one pickled in the index, so that changed analysis applies
    # to new writes (and to everything after `rebuild`).
    storage = _Storage(str(directory))
    with storage.closing_on_failure():
        return FileIndex(storage, schema=build_schema(), indexname=INDEX_NAME)


def database_search(
    session: Session,
    text: str = "",
    *,
    category: str | None = None,
    tags: Collection[str] = (),
    price_min: int | None = None,
    price_max: int | None = None,
    district: str | None = None,
    scale: str | None = None,
    deliverable_within_hours: int | None = None,
    sort: Sort = "relevance",
    page: int = 1,
    page_size: int = 24,
) -> SearchResult:
    """What `CatalogIndex.search` answers, from a plain database query, for when the index
    cannot be read: every word must appear in the name, description, vendor or category of an
    orderable product; the filters apply; no facets, no "did you mean", relevance is newest."""
    query = orderable_products_query(text, category or "")
    if price_min is not None:
        query = query.where(Product.price >= price_min)
    if price_max is not None:
        query = query.where(Product.price <= price_max)
    if district:
        query = query.where(Vendor.district == district)
    if scale:
        query = query.where(Vendor.scale == scale)
    if deliverable_within_hours is not None:
        query = query.where(Product.lead_time_hours <= deliverable_within_hours)
    order = {
        "price_asc": (Product.price, Product.id),
        "price_desc": (Product.price.desc(), Product.id),
        "rating": (
            case(
                (Vendor.rating_count > 0, Vendor.rating_stars_total * 10 / Vendor.rating_count),
                else_=0,
            ).desc(),
            Product.id,
        ),
    }.get(sort, (Product.created_at.desc(), Product.id.desc()))
    rows = session.execute(
        query.with_only_columns(Product.id, Product.tags).order_by(None).order_by(*order)
    ).all()
    wanted = set(tags)
    ids = [product_id for product_id, its in rows if wanted <= set(its or ())]
    page_size = max(1, page_size)
    pages = max(1, math.ceil(len(ids) / page_size))
    page = min(max(1, page), pages)
    start = (page - 1) * page_size
    return SearchResult(ids=ids[start : start + page_size], total=len(ids), page=page, pages=pages)


def product_document(product: Product) -> ProductDocument:
    """The index document of a product (its vendor and category are read too)."""
    vendor, category = product.vendor, product.category
    return build_document(
        product_id=product.id,
        name=product.name,
        description=product.description or "",
        category_slug=category.slug,
        category_names=(category.name_id, category.name_en),
        vendor_name=vendor.trading_name,
        tags=product.tags or (),
        district=vendor.district,
        scale=vendor.scale.value,
        price=product.price,
        lead_time_hours=product.lead_time_hours,
        created=int(product.created_at.timestamp()),
        rating=vendor.rating_tenths,
        rating_count=vendor.rating_count or 0,
    )


def _orderable_products() -> Select[tuple[Product]]:
    # The index needs no photos; skip the eager load the model asks for.
    return orderable_products_query().options(lazyload(Product.photos))


def _orderable_ids_query() -> Select[tuple[int, int]]:
    """(product id, vendor id) of every orderable product."""
    return (
        orderable_products_query().with_only_columns(Product.id, Product.vendor_id).order_by(None)
    )


def _vendor_ratings(session: Session, vendor_ids: set[int]) -> dict[int, tuple[int, int]]:
    """Vendor id -> (rating in tenths, number of ratings), as product documents hold them."""
    ratings: dict[int, tuple[int, int]] = {}
    for batch in _batched(sorted(vendor_ids), BATCH_SIZE):
        vendors = session.scalars(select(Vendor).where(Vendor.id.in_(batch)))
        ratings.update((v.id, (v.rating_tenths, v.rating_count or 0)) for v in vendors)
    return ratings


def _batched(items: Iterable[int], size: int) -> Iterator[list[int]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _updater(
    documents: Iterable[ProductDocument], removed: Iterable[int]
) -> Callable[[SegmentWriter], None]:
    def update(writer: SegmentWriter) -> None:
        for product_id in removed:
            writer.delete_by_term("id", str(product_id))
        for document in documents:
            writer.update_document(**document)

    return update


# Facet and sort values in memory -------------------------------------------------------------

_COLUMN_NAMES = (
    "product_id",
    "category",
    "tags",
    "price",
    "lead_time",
    "district",
    "scale",
    "created",
    "rating",
    "rating_count",
    "facet_code",
    "tag_mask",
    "newest",
    "price_asc",
    "price_desc",
    "best_rated",
)


class _SegmentColumns:
    """The facet and sort values of one segment's documents, by document number.

    A segment never changes once written (only its deletions do), so these are read once.
    """

    def __init__(self, leaf: IndexReader, codec: _FacetCodec) -> None:
        size = leaf.doc_count_all()
        # Deleted documents keep placeholder values; they never match anything.
        self.product_id, self.price, self.lead_time = [0] * size, [0] * size, [0] * size
        self.created, self.rating, self.rating_count = [0] * size, [0] * size, [0] * size
        self.category, self.district, self.scale = [""] * size, [""] * size, [""] * size
        self.tags: list[tuple[str, ...]] = [()] * size
        for docnum, stored in leaf.iter_docs():
            self.product_id[docnum] = int(stored["id"])
            self.category[docnum] = stored.get("category", "")
            self.tags[docnum] = tuple(t for t in stored.get("tags", "").split(",") if t)
            self.price[docnum] = stored.get("price", 0)
            self.lead_time[docnum] = stored.get("lead_time_hours", 0)
            self.district[docnum] = stored.get("district", "")
            self.scale[docnum] = stored.get("scale", "")
            self.created[docnum] = stored.get("created", 0)
            self.rating[docnum] = stored.get("rating") or 0
            self.rating_count[docnum] = stored.get("rating_count") or 0
        bounds = [b.price_max for b in PRICE_BUCKETS[:-1]]
        price_bucket = [_bucket(bounds, p) for p in self.price]
        lead_bucket = [_bucket(LEAD_TIME_BUCKETS, h) for h in self.lead_time]
        self.facet_code = list(
            map(codec.encode, self.category, self.scale, price_bucket, lead_bucket)
        )
        self.tag_mask = list(map(codec.mask, self.tags))
        # Sort keys, smallest first; ties go to the newest (among equal averages, to the
        # vendor with more ratings first).
        self.newest = [-c for c in self.created]
        self.price_asc = list(zip(self.price, self.newest, strict=True))
        self.price_desc = list(zip(map(neg, self.price), self.newest, strict=True))
        self.best_rated = list(
            zip(map(neg, self.rating), map(neg, self.rating_count), self.newest, strict=True)
        )


class _Columns:
    """Facet and sort values of every document of the index, by document number.

    Filtering, counting facets and sorting over these lists is far faster than Whoosh's
    per-document facet collectors, and needs no second pass over the postings.
    """

    product_id: list[int]
    category: list[str]
    tags: list[tuple[str, ...]]
    price: list[int]
    lead_time: list[int]
    district: list[str]
    scale: list[str]
    created: list[int]
    rating: list[int]
    rating_count: list[int]
    facet_code: list[int]
    tag_mask: list[int]
    newest: list[int]
    price_asc: list[tuple[int, int]]
    price_desc: list[tuple[int, int]]
    best_rated: list[tuple[int, int, int]]

    def __init__(self, segments: list[_SegmentColumns], live: set[int], codec: _FacetCodec):
        self.live = live
        self.codec = codec
        for name in _COLUMN_NAMES:
            setattr(self, name, list(chain.from_iterable(getattr(s, name) for s in segments)))
        self.has_deletions = len(live) < len(self.product_id)
        # Columns are read afresh whenever the index changed, so they number its versions.
        self.version = next(_versions)
        self.version_name = ""
        # Both live as long as these columns, i.e. until the index changes.
        self._orders: dict[str, list[int]] = {}
        self._results: OrderedDict[_Request, SearchResult] = OrderedDict()

    def sort_key(self, sort: str) -> list[Any]:
        """A key per document for `sort`, smallest first; "relevance" without text is newest."""
        name = {"relevance": "newest", "rating": "best_rated"}.get(sort, sort)
        keys: list[Any] = getattr(self, name)
        return keys

    def first(self, docs: set[int], sort: str, count: int) -> list[int]:
        """The first `count` of `docs` in `sort` order.

        Every live document in that order is worked out once per index version; a large set
        is then read off it, a small one is sorted on its own.
        """
        key = self.sort_key(sort)
        if len(docs) * 8 < len(self.live):
            return heapq.nsmallest(count, docs, key=key.__getitem__)
        order = self._orders.get(sort)
        if order is None:
            order = self._orders[sort] = sorted(self.live, key=key.__getitem__)
        if docs is self.live:
            return order[:count]
        return list(islice(filter(docs.__contains__, order), count))

    def remembered(self, request: _Request) -> SearchResult | None:
        """The result of the same request on this index version, if it was asked lately."""
        result = self._results.get(request)
        if result is not None:
            self._results.move_to_end(request)
        return result

    def remember(self, request: _Request, result: SearchResult) -> None:
        self._results[request] = result
        if len(self._results) > REMEMBERED_RESULTS:
            self._results.popitem(last=False)


class _FacetCodec:
    """Packs a document's category, scale, price bucket and lead-time bucket into one small
    int, and its tags into a bit mask, so that two Counter passes over the matching documents
    count five facets: one pass per facet was most of the time of a search that matched half
    the catalogue. There are few distinct codes and masks, so decoding their counts is cheap.

    Values get their numbers as they are first seen and keep them, so that the codes of
    segments read earlier stay valid.
    """

    #: room for this many scales in a code (BusinessScale has three)
    SCALES = 16

    def __init__(self) -> None:
        self._categories = _Numbering()
        self._scales = _Numbering()
        self._tags = _Numbering()

    def encode(self, category: str, scale: str, price: int, lead: int) -> int:
        code = self._categories.number(category) * self.SCALES + self._scales.number(scale)
        return (code * len(PRICE_BUCKETS) + price) * (len(LEAD_TIME_BUCKETS) + 1) + lead

    def decode(self, code: int) -> tuple[str, str, int, int]:
        """(category, scale, price bucket, lead-time bucket) of a code."""
        rest, lead = divmod(code, len(LEAD_TIME_BUCKETS) + 1)
        rest, price = divmod(rest, len(PRICE_BUCKETS))
        category, scale = divmod(rest, self.SCALES)
        return self._categories.values[category], self._scales.values[scale], price, lead

    def mask(self, tags: Iterable[str]) -> int:
        return sum(1 << self._tags.number(t) for t in set(tags))

    def unmask(self, mask: int) -> list[str]:
        return [tag for bit, tag in enumerate(self._tags.values) if mask & (1 << bit)]


class _Numbering:
    """Numbers values 0, 1, 2, ... in the order they are first seen."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._numbers: dict[str, int] = {}

    def number(self, value: str) -> int:
        if value not in self._numbers:
            self._numbers[value] = len(self.values)
            self.values.append(value)
        return self._numbers[value]


def _bucket(upper_bounds: Sequence[int | None], value: int) -> int:
    """Index of the first bucket whose (inclusive) upper bound holds `value`."""
    return next(
        (i for i, bound in enumerate(upper_bounds) if bound is not None and value <= bound),
        len(upper_bounds),
    )


# Matching and ranking ------------------------------------------------------------------------


def _run(reader: IndexReader, columns: _Columns, request: _Request) -> SearchResult:
    words = analyse_query(request.text)
    postings = [_postings(reader, "text", word) for word in words]
    matched = _intersection(postings, columns) if words else columns.live
    docs = _apply_filters(matched, columns, request)
    total = len(docs)
    pages = max(1, math.ceil(total / request.page_size))
    page = min(max(1, request.page), pages)
    window = page * request.page_size
    if words and request.sort == "relevance":
        exact = _postings(reader, "name_exact", " ".join(words))
        ordered = _rank(docs, postings, exact, reader.doc_count_all(), window)
    else:
        ordered = columns.first(docs, request.sort, window)
    ids = [columns.product_id[d] for d in ordered[window - request.page_size : window]]
    facets = _facets(matched, docs, columns, request) if request.with_facets else {}
    return SearchResult(ids=ids, total=total, page=page, pages=pages, facets=facets)


def _postings(reader: IndexReader, fieldname: str, word: str) -> dict[int, float]:
    """Document number -> weight of one term, deleted documents included."""
    postings: dict[int, float] = {}
    for leaf, offset in reader.leaf_readers():
        if (fieldname, word) in leaf:
            matcher = leaf.postings(fieldname, word)
            # Deleted documents are wrapped out by a FilterMatcher; `live` drops them later.
            postings.update(_read_blocks(getattr(matcher, "child", matcher), offset))
    return postings


def _read_blocks(matcher: Matcher, offset: int) -> Iterator[tuple[int, float]]:
    if not isinstance(matcher, W3LeafMatcher):
        while matcher.is_active():  # another codec: the public, per-posting way
            yield matcher.id() + offset, matcher.weight()
            matcher.next()
        return
    # Whole blocks of postings at a time, through the block attributes of the pinned
    # whoosh-reloaded 2.7.5: the public id()/weight()/next() per posting cost three times
    # as much and were most of the time of a search.
    while matcher.is_active():
        if matcher._data is None:
            matcher._read_data()
        matcher._read_weights()
        deltas = matcher._data[0]
        ids = deltas if matcher._byteids else accumulate(deltas)
        yield from zip(map(offset.__add__, ids), matcher._weights, strict=True)
        matcher._next_block()


def _intersection(postings: list[dict[int, float]], columns: _Columns) -> set[int]:
    if not all(postings):
        return set()
    smallest, *others = sorted(postings, key=len)
    docs = set(smallest)
    for other in others:
        docs = set(filter(other.__contains__, docs))
    return docs & columns.live if columns.has_deletions else docs


def _rank(
    docs: set[int],
    postings: list[dict[int, float]],
    exact: dict[int, float],
    doc_count: int,
    limit: int,
) -> list[int]:
    """The `limit` best of `docs`: per word, its weight in the product (name words weigh more,
    see SECTION_WEIGHTS), saturated as in BM25, times its rarity; plus the exact-name bonus.

    There is no document-length normalisation: listing texts are all short. Everything runs
    as C-level map() over the matching documents rather than a Python call per document.
    """
    if not docs:
        return []
    candidates = list(docs)
    scores: Iterable[float] = repeat(0.0, len(candidates))
    for weights in postings:
        idf = math.log(doc_count / (len(weights) + 1)) + 1
        score_of = {w: idf * w * (SATURATION + 1) / (w + SATURATION) for w in set(weights.values())}
        scores = map(add, scores, map(score_of.__getitem__, map(weights.__getitem__, candidates)))
    if exact:
        exact_bonus = dict.fromkeys(exact, EXACT_NAME_BONUS)
        scores = map(add, scores, map(exact_bonus.get, candidates, repeat(0.0)))
    # Ties go to the higher document number: the more recently indexed product.
    return [d for _, d in heapq.nlargest(limit, zip(scores, candidates, strict=True))]


# Filters and facets --------------------------------------------------------------------------


def _apply_filters(
    docs: set[int], columns: _Columns, request: _Request, skip: str = ""
) -> set[int]:
    """`docs` narrowed by every filter but `skip`; `docs` itself when none applies."""
    for facet, values, wanted in (
        ("category", columns.category, request.category),
        ("district", columns.district, request.district),
        ("scale", columns.scale, request.scale),
    ):
        if wanted and skip != facet:
            docs = {d for d in docs if values[d] == wanted}
    if request.tags:
        tags = columns.tags
        docs = {d for d in docs if request.tags.issubset(tags[d])}
    if request.filters("price") and skip != "price":
        price, low = columns.price, request.price_min or 0
        high = request.price_max if request.price_max is not None else math.inf
        docs = {d for d in docs if low <= price[d] <= high}
    if request.within_hours is not None and skip != "lead_time":
        lead, hours = columns.lead_time, request.within_hours
        docs = {d for d in docs if lead[d] <= hours}
    return docs


#: facets counted through _FacetCodec codes, in the order of its decoded tuple
_CODED_FACETS = ("category", "scale", "price", "lead_time")


def _facets(
    matched: set[int], docs: set[int], columns: _Columns, request: _Request
) -> dict[str, dict[str, int]]:
    # A facet whose own filter is set is counted without that filter, over its own set.
    def base(facet: str) -> set[int]:
        if request.filters(facet):
            return _apply_filters(matched, columns, request, skip=facet)
        return docs

    bases = {facet: base(facet) for facet in (*_CODED_FACETS, "district")}
    counts: dict[str, Counter[Any]] = {}
    if any(bases[facet] is docs for facet in _CODED_FACETS):
        counts.update(_coded_counts(columns, docs))
    for facet in _CODED_FACETS:
        if bases[facet] is not docs:
            counts[facet] = _coded_counts(columns, bases[facet])[facet]
    counts["district"] = Counter(map(columns.district.__getitem__, bases["district"]))
    # Tags combine with AND, so their counts are simply those of the results.
    counts["tag"] = Counter()
    for mask, n in Counter(map(columns.tag_mask.__getitem__, docs)).items():
        for tag in columns.codec.unmask(mask):
            counts["tag"][tag] += n
    within = accumulate(counts["lead_time"][i] for i in range(len(LEAD_TIME_BUCKETS)))
    price = counts["price"]
    return {
        "category": _by_count(counts["category"]),
        "tag": _by_count(counts["tag"]),
        "price": {b.key: price[i] for i, b in enumerate(PRICE_BUCKETS) if price[i]},
        "district": _by_count(counts["district"]),
        "scale": _by_count(counts["scale"]),
        "lead_time": {str(h): n for h, n in zip(LEAD_TIME_BUCKETS, within, strict=True) if n},
    }


def _coded_counts(columns: _Columns, docs: set[int]) -> dict[str, Counter[Any]]:
    counts: dict[str, Counter[Any]] = {facet: Counter() for facet in _CODED_FACETS}
    for code, n in Counter(map(columns.facet_code.__getitem__, docs)).items():
        for facet, value in zip(_CODED_FACETS, columns.codec.decode(code), strict=True):
            counts[facet][value] += n
    return counts


def _by_count(counts: Counter[str]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


# Did you mean --------------------------------------------------------------------------------


def _with_suggestion(
    reader: IndexReader, columns: _Columns, request: _Request, result: SearchResult
) -> SearchResult:
    corrected = corrected_query(reader, request.text)
    if corrected is None:
        return result
    alternative = _run(reader, columns, replace(request, text=corrected))
    if alternative.total <= result.total:
        return result
    if result.total == 0:
        return replace(alternative, suggestion=corrected, showing_suggestion=True)
    return replace(result, suggestion=corrected)
