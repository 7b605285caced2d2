"""Search benchmark: the catalogue's Whoosh index against SQLite FTS5 on the same products.

Generates realistic catering products (deterministically), writes them to a fresh Whoosh index
(built by catalog.search, so the real analysis and search code is measured) and to an FTS5
table, runs the same queries against both in this process, and prints build times, median and
p99 latency, and their ratio. Needs neither the Flask app nor a database.

    .venv/bin/python bench/search_bench.py [--products 50000] [--queries 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import functools
import math
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from catalog.search import PRICE_BUCKETS, CatalogIndex
from catalog.search_analysis import (
    SECTION_WEIGHTS,
    STOP_WORDS,
    SYNONYM_GROUPS,
    build_document,
)

#: A generated product: the keyword arguments of catalog.search_analysis.build_document.
Product = dict[str, Any]

SEED = 20_240_501
T = TypeVar("T")

DISTRICTS = (
    "Gambir", "Menteng", "Tanah Abang", "Senen", "Cempaka Putih", "Johar Baru", "Kemayoran",
    "Sawah Besar", "Tebet", "Setiabudi", "Mampang Prapatan", "Pancoran", "Kebayoran Baru",
    "Kebayoran Lama", "Cilandak", "Pasar Minggu", "Jagakarsa", "Pesanggrahan", "Cengkareng",
    "Grogol Petamburan", "Kalideres", "Kebon Jeruk", "Kembangan", "Palmerah", "Taman Sari",
    "Tambora", "Cakung", "Cipayung", "Ciracas", "Duren Sawit", "Jatinegara", "Kramat Jati",
    "Makasar", "Matraman", "Pasar Rebo", "Pulo Gadung", "Cilincing", "Kelapa Gading", "Koja",
    "Pademangan", "Penjaringan", "Tanjung Priok",
)  # fmt: skip
VENDOR_PATTERNS = (
    "Dapur {}", "Catering {}", "Katering {}", "Warung {}", "Rumah Makan {}", "Kedai {}",
    "{} Kitchen", "Bu {}", "Pawon {}", "Griya Rasa {}",
)  # fmt: skip
VENDOR_NAMES = (
    "Sari", "Ani", "Rini", "Slamet", "Berkah", "Barokah", "Sederhana", "Nikmat", "Lestari",
    "Sehati", "Mawar", "Melati", "Kenanga", "Citra Rasa", "Selera Nusantara", "Mbok Darmi",
    "Bu Tini", "Pak Kumis", "Betawi Asli", "Minang Jaya", "Sunda Rasa", "Jawa Timuran",
    "Hj. Ema", "Ibu Yati", "Mekar Sari", "Sumber Rezeki", "Cahaya", "Family", "Bunda", "Ceria",
)  # fmt: skip
LAUK = (
    "Ayam Bakar Madu", "Ayam Goreng Kremes", "Ayam Penyet", "Rendang Sapi", "Empal Gepuk",
    "Ikan Bakar", "Ikan Goreng Sambal Matah", "Udang Balado", "Semur Daging", "Ayam Teriyaki",
    "Ayam Geprek", "Bebek Goreng", "Sate Ayam", "Dendeng Balado", "Cumi Hitam", "Telur Balado",
    "Gulai Kambing", "Soto Ayam", "Ayam Rica-Rica", "Ayam Woku", "Pepes Ikan", "Tongkol Suwir",
    "Opor Ayam", "Sayur Asem", "Tahu Tempe Bacem", "Sapi Lada Hitam", "Ayam Bakar Taliwang",
)  # fmt: skip
RICE = ("Uduk", "Kuning", "Liwet", "Bakar", "Goreng", "Merah", "Kebuli", "Padang", "Timbel")
SNACKS = (
    "Lemper Ayam", "Risoles Mayo", "Kue Lapis Legit", "Klepon", "Dadar Gulung", "Pastel Sayur",
    "Lumpia Semarang", "Bolu Pandan", "Martabak Manis Mini", "Onde-Onde", "Kue Sus",
    "Brownies Kukus", "Nagasari", "Putu Ayu", "Bika Ambon", "Kue Talam", "Arem-Arem",
    "Serabi Solo", "Pisang Goreng", "Tahu Isi", "Kue Cubit", "Pukis", "Donat Kentang",
)  # fmt: skip
DRINKS = (
    "Kopi Susu Gula Aren", "Es Teh Manis", "Teh Tarik", "Jus Jeruk", "Jus Alpukat", "Jus Mangga",
    "Wedang Jahe", "Es Cendol", "Es Kelapa Muda", "Kopi Hitam Tubruk", "Air Mineral",
    "Susu Kedelai", "Bandrek", "Sekoteng", "Es Jeruk Nipis", "Teh Melati", "Kopi Arabika Gayo",
    "Minuman Rempah", "Jamu Kunyit Asam", "Infused Water Lemon", "Es Kopi Susu", "Teh Hijau",
)  # fmt: skip
SIZES = ("1 Liter", "600 ml", "Botol 250 ml", "Gelas", "Galon 5 Liter", "Termos 3 Liter", "Cup")
FRUIT = ("Buah Potong Segar", "Parcel Buah", "Salad Buah", "Rujak Buah", "Buah Potong Mix")
VARIANTS = ("", "Spesial", "Komplit", "Hemat", "Premium", "Pedas", "Jumbo", "Mini", "Paket")
SIDES = (
    "nasi putih", "sayur asem", "lalapan", "sambal terasi", "kerupuk", "tumis buncis",
    "perkedel kentang", "tempe orek", "acar", "buah potong", "capcay", "sayur lodeh",
)  # fmt: skip
OCCASIONS = (
    "Cocok untuk rapat dan acara kantor.", "Dimasak segar setiap pagi.",
    "Tanpa pengawet dan tanpa MSG.", "Dikemas rapi dan higienis.",
    "Favorit untuk syukuran dan pengajian.", "Porsi mengenyangkan, harga bersahabat.",
)  # fmt: skip

# (slug, Indonesian name, English name, price range in rupiah, share of products)
CATEGORIES = (
    ("nasi-box", "Nasi Box", "Rice Box", (18_000, 75_000), 30),
    ("snack-box", "Snack Box", "Snack Box", (8_000, 35_000), 15),
    ("prasmanan", "Prasmanan", "Buffet", (45_000, 250_000), 10),
    ("coffee-break", "Coffee Break", "Coffee Break", (15_000, 60_000), 8),
    ("tumpeng", "Tumpeng", "Tumpeng", (250_000, 2_500_000), 5),
    ("minuman", "Minuman", "Beverages", (5_000, 150_000), 14),
    ("buah", "Buah", "Fruit", (10_000, 400_000), 5),
    ("kue", "Kue Tradisional", "Traditional Cakes", (2_500, 12_000), 10),
    ("lauk", "Lauk Pauk", "Side Dishes", (10_000, 90_000), 3),
)
TAGS = (("halal", 0.85), ("no_seafood", 0.4), ("no_nuts", 0.3), ("low_sugar", 0.1))


def _product_name(rng: random.Random, slug: str) -> str:
    variant = rng.choice(VARIANTS)
    if slug == "nasi-box":
        base = rng.choice(
            (f"Nasi Box {rng.choice(LAUK)}", f"Nasi {rng.choice(RICE)} {rng.choice(LAUK)}")
        )
    elif slug == "snack-box":
        kind = rng.choice(("Tradisional", "Modern", "Manis Gurih", "Jajanan Pasar", "Sehat"))
        base = f"Snack Box {kind} Isi {rng.randint(3, 6)}"
    elif slug == "prasmanan":
        menu = rng.choice(("Nusantara", "Betawi", "Sunda", "Padang", "Jawa", "Chinese Food"))
        base = f"Prasmanan Menu {menu} {rng.choice(LAUK)}"
    elif slug == "coffee-break":
        base = f"Coffee Break {rng.choice(SNACKS)} dan {rng.choice(DRINKS)}"
    elif slug == "tumpeng":
        size = rng.choice(("Mini", "Isi 10 Orang", "Isi 20 Orang", "Isi 30 Orang"))
        base = f"Tumpeng Nasi {rng.choice(('Kuning', 'Uduk', 'Liwet', 'Putih'))} {size}"
    elif slug == "minuman":
        base = f"{rng.choice(DRINKS)} {rng.choice(SIZES)}"
    elif slug == "buah":
        base = f"{rng.choice(FRUIT)} {rng.choice(('Cup', 'Box', 'Nampan Besar', '1 Kg'))}"
    elif slug == "kue":
        base = rng.choice(SNACKS)
    else:
        base = rng.choice(LAUK)
    return f"{base} {variant}".strip()


def _description(rng: random.Random, name: str) -> str:
    sides = ", ".join(rng.sample(SIDES, 3))
    return f"{name} dengan {sides}. {rng.choice(OCCASIONS)} {rng.choice(OCCASIONS)}"


def generate_products(count: int, seed: int = SEED) -> list[Product]:
    """`count` products from ~2,000 vendors across Jakarta, always the same for one seed."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    vendors = [
        (
            rng.choice(VENDOR_PATTERNS).format(rng.choice(VENDOR_NAMES)) + f" {n % 97 or ''}",
            rng.choice(DISTRICTS),
            rng.choices(("micro", "small", "medium"), weights=(6, 3, 1))[0],
        )
        for n in range(max(1, count // 25))
    ]
    weights = [c[4] for c in CATEGORIES]
    newest = 1_767_225_600  # 2026-01-01, so that the data does not depend on today
    products = []
    for product_id in range(1, count + 1):
        slug, name_id, name_en, (low, high), _ = rng.choices(CATEGORIES, weights=weights)[0]
        vendor_name, district, scale = rng.choice(vendors)
        name = _product_name(rng, slug)
        tags = [tag for tag, share in TAGS if rng.random() < share]
        if rng.random() < 0.1:
            tags += ["vegetarian", "vegan"] if rng.random() < 0.3 else ["vegetarian"]
        products.append(
            {
                "product_id": product_id,
                "name": name,
                "description": _description(rng, name),
                "category_slug": slug,
                "category_names": (name_id, name_en),
                "vendor_name": vendor_name.strip(),
                "tags": tags,
                "district": district,
                "scale": scale,
                "price": rng.randrange(low, high, 500),
                "lead_time_hours": rng.choice((12, 24, 24, 24, 48, 48, 72, 96)),
                "created": newest - rng.randrange(0, 2 * 365 * 86_400),
                "rating": rng.randrange(0, 51),
            }
        )
    return products


def _typo(rng: random.Random, word: str) -> str:
    # One realistic slip after the first letter: swapped, dropped or doubled letter.
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("swap", "drop", "double"))
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


KINDS = ("word", "two words", "typo", "English")


def generate_queries(count: int, seed: int = SEED) -> list[tuple[str, str]]:
    """(kind, text): single words, two words, typos and English synonyms, a quarter each."""
    rng = random.Random(seed + 1)  # noqa: S311 - reproducible test data, not secrets
    texts = LAUK + SNACKS + DRINKS + FRUIT + tuple(f"Nasi {r}" for r in RICE)
    words = sorted({w.lower() for t in texts for w in re.findall(r"[^\W\d]{4,}", t)})
    words += ["minuman", "makanan", "tumpeng", "prasmanan", "snack", "kue", "halal"]
    pairs = sorted({" ".join(t.lower().split()[:2]) for t in texts if " " in t})
    english = [
        "chicken", "coffee", "beef", "fish", "rice", "fruit", "cake", "juice", "tea", "water",
        "spicy chicken", "grilled fish", "fried chicken", "buffet", "milk coffee", "beef rice",
        "vegetables", "drinks", "noodles", "shrimp", "duck", "grilled chicken", "fruit juice",
    ]  # fmt: skip
    long_words = [w for w in words if len(w) >= 5]
    makers: dict[str, Callable[[], str]] = {
        "word": lambda: rng.choice(words),
        "two words": lambda: rng.choice(pairs),
        "typo": lambda: _typo(rng, rng.choice(long_words)),
        "English": lambda: rng.choice(english),
    }
    quarter = count // 4
    counts = {"word": count - 3 * quarter, "two words": quarter, "typo": quarter}
    counts["English"] = quarter
    return [(kind, makers[kind]()) for kind in KINDS for _ in range(counts[kind])]


# SQLite FTS5 -------------------------------------------------------------------------------


def build_fts(path: Path, products: list[Product]) -> sqlite3.Connection:
    """The same text in an FTS5 table (unicode61: no stemming), facet values in a plain one."""
    connection = sqlite3.connect(path)
    connection.executescript(
        """
        CREATE VIRTUAL TABLE products_fts USING fts5(
            name, description, category_text, vendor_name,
            tokenize = 'unicode61 remove_diacritics 2'
        );
        CREATE TABLE products (
            id INTEGER PRIMARY KEY, category TEXT, district TEXT, scale TEXT,
            price INTEGER, lead_time_hours INTEGER, created INTEGER, rating INTEGER
        );
        CREATE TABLE product_tags (product_id INTEGER, tag TEXT);
        CREATE INDEX product_tags_product ON product_tags (product_id);
        """
    )
    with connection:
        connection.executemany(
            "INSERT INTO products_fts (rowid, name, description, category_text, vendor_name)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                (
                    p["product_id"],
                    p["name"],
                    p["description"],
                    " ".join(p["category_names"]),
                    p["vendor_name"],
                )
                for p in products
            ),
        )
        connection.executemany(
            "INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    p["product_id"],
                    p["category_slug"],
                    p["district"],
                    p["scale"],
                    p["price"],
                    p["lead_time_hours"],
                    p["created"],
                    p["rating"],
                )
                for p in products
            ),
        )
        connection.executemany(
            "INSERT INTO product_tags VALUES (?, ?)",
            ((p["product_id"], tag) for p in products for tag in set(p["tags"])),
        )
    return connection


def _fts_synonyms() -> dict[str, list[str]]:
    # FTS5 cannot add synonyms at indexing time without a C tokenizer: expand the query instead.
    expansions: dict[str, list[str]] = {}
    for group in SYNONYM_GROUPS:
        for member in group:
            for word in member.split():
                expansions.setdefault(word, []).extend(m for m in group if m != member)
    return expansions


_FTS_SYNONYMS = _fts_synonyms()
_WEIGHTS = (SECTION_WEIGHTS[s] for s in ("name", "description", "category", "vendor"))
_BM25 = "bm25(products_fts, {})".format(", ".join(str(w) for w in _WEIGHTS))
_FTS_TOP = (
    "SELECT rowid FROM products_fts WHERE products_fts MATCH ? "  # noqa: S608 - no input
    f"ORDER BY {_BM25} LIMIT 24"
)
_FTS_COUNT = "SELECT count(*) FROM products_fts WHERE products_fts MATCH ?"
_PRICE_CASE = " ".join(
    f"WHEN price <= {b.price_max} THEN '{b.key}'" for b in PRICE_BUCKETS if b.price_max
)
_FTS_FACETS = f"""
    WITH m AS MATERIALIZED (SELECT rowid AS id FROM products_fts WHERE products_fts MATCH ?),
         p AS MATERIALIZED (SELECT products.* FROM products JOIN m USING (id))
    SELECT 'category', category, count(*) FROM p GROUP BY 2
    UNION ALL SELECT 'district', district, count(*) FROM p GROUP BY 2
    UNION ALL SELECT 'scale', scale, count(*) FROM p GROUP BY 2
    UNION ALL SELECT 'price', CASE {_PRICE_CASE} ELSE '{PRICE_BUCKETS[-1].key}' END, count(*)
        FROM p GROUP BY 2
    UNION ALL SELECT 'lead_time', CASE WHEN lead_time_hours <= 24 THEN '24'
        WHEN lead_time_hours <= 48 THEN '48' WHEN lead_time_hours <= 72 THEN '72' ELSE '' END,
        count(*) FROM p GROUP BY 2
    UNION ALL SELECT 'tag', tag, count(*) FROM product_tags JOIN m ON m.id = product_id
        GROUP BY 2
"""  # noqa: S608 - fixed text, no input


def fts_match_expression(text: str) -> str:
    """Every word required, each with its synonyms as alternatives, all quoted."""
    clauses = []
    for word in re.findall(r"\w+", text.lower()):
        if word in STOP_WORDS:
            continue
        alternatives = [word, *_FTS_SYNONYMS.get(word, [])]
        clauses.append("(" + " OR ".join(f'"{a}"' for a in alternatives) + ")")
    return " AND ".join(clauses)


def fts_search(connection: sqlite3.Connection, text: str, facets: bool) -> list[int]:
    expression = fts_match_expression(text)
    ids = [row[0] for row in connection.execute(_FTS_TOP, (expression,))]
    connection.execute(_FTS_COUNT, (expression,)).fetchone()
    if facets:
        connection.execute(_FTS_FACETS, (expression,)).fetchall()
    return ids


# Measuring -----------------------------------------------------------------------------------


@dataclass
class Timings:
    #: (query kind, seconds)
    samples: list[tuple[str, float]]

    def median_ms(self, kind: str = "") -> float:
        return statistics.median(self._seconds(kind)) * 1000

    def p99_ms(self, kind: str = "") -> float:
        ordered = sorted(self._seconds(kind))
        return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)] * 1000

    def _seconds(self, kind: str) -> list[float]:
        return [seconds for k, seconds in self.samples if not kind or k == kind]


def measure(
    engines: list[Callable[[str], object]], queries: list[tuple[str, str]], rounds: int
) -> list[Timings]:
    """Times each query on every engine in turn, so that a load change on the machine hits
    all engines alike."""
    samples: list[list[tuple[str, float]]] = [[] for _ in engines]
    for _ in range(rounds):
        for kind, text in queries:
            for run, timings in zip(engines, samples, strict=True):
                started = time.perf_counter()
                run(text)
                timings.append((kind, time.perf_counter() - started))
    return [Timings(timings) for timings in samples]


def timed(action: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def report(label: str, whoosh: Timings, fts: Timings) -> str:
    lines = [f"{label:<24} {'Whoosh':>8} {'FTS5':>8} {'ratio':>6}"]
    rows = [("median, all (ms)", "", Timings.median_ms), ("p99, all (ms)", "", Timings.p99_ms)]
    rows += [(f"  median, {kind}", kind, Timings.median_ms) for kind in KINDS]
    for name, kind, statistic in rows:
        w, f = statistic(whoosh, kind), statistic(fts, kind)
        lines.append(f"{name:<24} {w:>8.2f} {f:>8.2f} {w / f:>6.1f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="timed passes over the queries")
    args = parser.parse_args()

    generate_seconds, products = timed(lambda: generate_products(args.products))
    queries = generate_queries(args.queries)
    texts = [text for _, text in queries]
    print(f"{args.products} products generated in {generate_seconds:.1f} s, {len(queries)} queries")
    with tempfile.TemporaryDirectory() as directory:
        whoosh_seconds, index = timed(lambda: build_whoosh(Path(directory) / "whoosh", products))
        fts_seconds, connection = timed(lambda: build_fts(Path(directory) / "fts.db", products))
        print(f"index build: Whoosh {whoosh_seconds:.1f} s, FTS5 {fts_seconds:.1f} s")
        try:
            cold_seconds, _ = timed(lambda: index.search(texts[0]))
            print(f"Whoosh first search (reads facet values): {cold_seconds * 1000:.0f} ms")
            found = sum(bool(index.search(t, with_facets=False).total) for t in texts)
            fts_found = sum(bool(fts_search(connection, t, False)) for t in texts)
            print(f"queries finding something: Whoosh {found}, FTS5 {fts_found} of {len(texts)}")
            for label, facets in (("top 24 + total", False), ("top 24 + total + facets", True)):
                engines: list[Callable[[str], object]] = [
                    functools.partial(index.search, with_facets=facets),
                    functools.partial(fts_search, connection, facets=facets),
                ]
                measure(engines, queries, 1)  # warm up
                whoosh, fts = measure(engines, queries, args.rounds)
                print(report(label, whoosh, fts))
        finally:
            index.close()
            connection.close()


def build_whoosh(path: Path, products: list[Product]) -> CatalogIndex:
    index = CatalogIndex.open(path)
    if not index.load_documents((build_document(**p) for p in products), clear=True):
        raise SystemExit("could not build the Whoosh index")
    return index


if __name__ == "__main__":
    main()
