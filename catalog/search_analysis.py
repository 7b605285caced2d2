"""Indonesian-aware text analysis, spelling correction and schema of the product search index.

Kept apart from the index code so that the benchmark can build the very same index without the
Flask app or the database models.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypedDict

from Sastrawi.Stemmer.StemmerFactory import StemmerFactory
from whoosh.analysis import (
    Analyzer,
    Filter,
    LowercaseFilter,
    RegexTokenizer,
    StemFilter,
    StopFilter,
)
from whoosh.analysis.acore import Token
from whoosh.fields import ID, KEYWORD, NUMERIC, TEXT, Schema
from whoosh.reading import IndexReader
from whoosh.support.levenshtein import damerau_levenshtein

#: Words too common in catering listings to say anything about a product ("isi 3", "paket untuk
#: rapat"). Negations such as "tanpa" (without) stay: "tanpa gula" means something.
STOP_WORDS = frozenset(
    {
        # Indonesian
        "dan", "atau", "yang", "untuk", "dengan", "di", "ke", "dari", "isi", "pada", "dalam",
        "per", "ini", "itu", "para", "ada", "adalah", "juga", "serta", "oleh", "sebagai", "bagi",
        "agar", "akan", "pun", "lah", "kah", "nya", "se", "tiap", "setiap",
        # English
        "the", "and", "or", "with", "for", "of", "a", "an", "in", "to",
    }
)  # fmt: skip

#: Groups of words that mean the same to a buyer. Each product is indexed with every member of
#: the groups its words belong to, so an English query finds an Indonesian listing and back.
#: A member may be two words ("air mineral"); members are written as a buyer types them and
#: stemmed like any other word before use.
SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("kopi", "coffee"),
    ("teh", "tea"),
    ("ayam", "chicken"),
    ("sapi", "daging", "beef"),
    ("ikan", "fish"),
    ("nasi", "rice"),
    ("buah", "fruit", "fruits"),
    ("kue", "cake", "cakes", "snack", "snacks"),
    ("air mineral", "water"),
    ("jus", "juice", "juices"),
    ("sayur", "vegetable", "vegetables"),
    ("pedas", "spicy"),
    ("prasmanan", "buffet"),
    ("minum", "drink", "drinks", "beverage", "beverages"),
    ("susu", "milk"),
    ("telur", "egg", "eggs"),
    ("udang", "shrimp", "prawn", "prawns"),
    ("kambing", "goat", "mutton"),
    ("bebek", "duck"),
    ("mie", "noodle", "noodles"),
    ("goreng", "fried"),
    ("bakar", "grilled"),
)

#: How much a word counts in each part of a product's text: a word in the name says more about
#: the product than the same word in its description.
SECTION_WEIGHTS: Mapping[str, float] = {
    "name": 3.0,
    "category": 1.5,
    "vendor": 1.0,
    "description": 1.0,
}
#: Starts a section of the text field; the number after it is the weight of the words that
#: follow. A control character, so it cannot come from a product's text or a query.
SECTION_MARK = "\x1e"

#: Spelling suggestions are words of letters only.
_WORD_PATTERN = r"[^\W\d_]{2,}"
_TEXT_PATTERN = SECTION_MARK + r"[\d.]+|\w+(?:\.?\w+)*"


@functools.cache
def _stemmer() -> Any:  # Sastrawi ships no type hints
    # Loading Sastrawi's root-word dictionary takes a few milliseconds: do it once, when needed.
    return StemmerFactory().create_stemmer()


@functools.lru_cache(maxsize=100_000)
def stem_word(word: str) -> str:
    """The Indonesian root of one lower-case word ("minuman" -> "minum"), cached because
    Sastrawi tries many affix combinations per word."""
    if not word.isalpha() or len(word) < 4:
        # Numbers, units ("600ml") and short words are not Indonesian derivations.
        return word
    stemmed: str = _stemmer().stem(word)
    # Sastrawi normalises whole texts; a result that is not a single word is not a stem.
    return stemmed if stemmed and stemmed.isalpha() else word


@functools.cache
def synonym_maps() -> tuple[dict[str, tuple[str, ...]], dict[tuple[str, str], tuple[str, ...]]]:
    """The synonym groups in stemmed form: one map for single words, one for word pairs.

    Each maps to every word of its group, so that indexing adds them beside the original.
    """
    single: dict[str, tuple[str, ...]] = {}
    pairs: dict[tuple[str, str], tuple[str, ...]] = {}
    for group in SYNONYM_GROUPS:
        members = [tuple(stem_word(w) for w in member.split()) for member in group]
        words = tuple(dict.fromkeys(word for member in members for word in member))
        for member in members:
            if len(member) == 1:
                single[member[0]] = words
            else:
                pairs[(member[0], member[1])] = words
    return single, pairs


class SynonymFilter(Filter):
    """Adds the synonyms of each word, at the same position, after stemming.

    The maps are read from this module at call time rather than stored on the filter, because
    Whoosh pickles the schema into the index: a changed list then takes effect on the next
    rebuild instead of being frozen in old index files.
    """

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        single, pairs = synonym_maps()
        previous = ""
        for token in tokens:
            text = token.text
            yield token
            extra = single.get(text, ()) + pairs.get((previous, text), ())
            seen = (previous, text)
            previous = text
            for word in extra:
                if word not in seen:
                    token.text = word
                    yield token


class SectionWeightFilter(Filter):
    """Gives each word the weight of its section (see `weighted_text`) and drops the marks."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        weight = 1.0
        for token in tokens:
            if token.text.startswith(SECTION_MARK):
                weight = float(token.text[1:])
                continue
            token.boost = weight
            yield token


def weighted_text(sections: Iterable[tuple[str, str]]) -> str:
    """One text of (section name, text) parts, each marked with its weight for indexing."""
    return " ".join(
        f"{SECTION_MARK}{SECTION_WEIGHTS[name]} {text.replace(SECTION_MARK, ' ')}"
        for name, text in sections
    )


def _base_analyzer() -> Analyzer:
    return (
        RegexTokenizer(_TEXT_PATTERN)
        | SectionWeightFilter()
        | LowercaseFilter()
        | StopFilter(stoplist=STOP_WORDS, minsize=2)
        # Our stem function has its own LRU cache, shared with query analysis.
        | StemFilter(stem_word, cachesize=None)
    )


def index_analyzer() -> Analyzer:
    """Analysis of product text when indexing: words, stop words out, stems, synonyms."""
    return _base_analyzer() | SynonymFilter()


def query_analyzer() -> Analyzer:
    """Analysis of what a buyer types: like indexing, without synonyms, which the index
    already holds for every product."""
    return _base_analyzer()


def spelling_analyzer() -> Analyzer:
    """Whole words as written (no stems), plus synonyms, as the vocabulary for "did you mean"."""
    return (
        RegexTokenizer(_WORD_PATTERN)
        | LowercaseFilter()
        | StopFilter(stoplist=STOP_WORDS, minsize=3)
        | SynonymFilter()
    )


class _Vocabulary(TEXT):
    """Words as written, only as the source of spelling suggestions: no scoring data."""

    def __init__(self) -> None:
        super().__init__(analyzer=spelling_analyzer(), phrase=False)
        self.scorable = False


def build_schema() -> Schema:
    """The fields of one indexed product."""
    return Schema(
        id=ID(stored=True, unique=True),
        # Name, category names, vendor name and description in one field, each part weighted
        # (see `weighted_text`), so that a query word reads one posting list instead of four
        # (see bench/README.md). No positions: queries never use phrases.
        text=TEXT(analyzer=index_analyzer(), phrase=False),
        # The analysed name as one term, so that typing a product's exact name ranks it first.
        name_exact=ID(),
        spell=_Vocabulary(),
        category=ID(stored=True),
        tags=KEYWORD(stored=True, commas=True, scorable=False),
        district=ID(stored=True),
        scale=ID(stored=True),
        # Filters and sorting run on values held in memory, never as index range queries, so
        # each number is indexed at full precision only (shift_step = bits): one term, not 16.
        price=NUMERIC(int, bits=64, shift_step=64, stored=True, sortable=True),
        lead_time_hours=NUMERIC(int, shift_step=32, stored=True, sortable=True),
        created=NUMERIC(int, bits=64, shift_step=64, stored=True, sortable=True),
        # The vendor's average in tenths of a star, and how many ratings it rests on.
        rating=NUMERIC(int, shift_step=32, stored=True, sortable=True, default=0),
        rating_count=NUMERIC(int, shift_step=32, stored=True, default=0),
    )


def analyse_query(text: str) -> list[str]:
    """The stemmed words of a query, stop words removed, in order, without repeats."""
    text = text.replace(SECTION_MARK, " ")
    return list(dict.fromkeys(token.text for token in _QUERY_ANALYZER(text)))


def spelling_words(text: str) -> list[str]:
    """The words of a query as typed (lower case, numbers kept), for spelling correction."""
    return [token.text for token in _SPELLING_TOKENIZER(text)]


def corrected_query(reader: IndexReader, text: str) -> str | None:
    """The query with each word the index does not know replaced by the closest word that it
    does ("ayma bakar" -> "ayam bakar"), or None if there is nothing to correct."""
    words = spelling_words(text)
    corrected = [
        word if _is_known(reader, word) else (_closest_word(reader, word) or word) for word in words
    ]
    return " ".join(corrected) if corrected != words else None


def _is_known(reader: IndexReader, word: str) -> bool:
    if word in STOP_WORDS or not word.isalpha() or len(word) < 3:
        return True  # nothing to correct
    return ("text", stem_word(word)) in reader


def _closest_word(reader: IndexReader, word: str) -> str | None:
    # Short words tolerate one edit. The first letter is trusted, which keeps the scan of the
    # vocabulary small (typos rarely hit the first letter).
    allowed = 1 if len(word) <= 4 else 2
    candidates = set(reader.terms_within("spell", word, allowed, prefix=1))
    # terms_within() misses swapped letters ("ayma" for "ayam"): its early cut-off of the
    # distance computation ignores transpositions. Swaps are few, so look them up directly.
    for i in range(1, len(word) - 1):
        swapped = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        if ("spell", swapped) in reader:
            candidates.add(swapped)
    candidates.discard(word)
    ranked = sorted(
        (damerau_levenshtein(word, c), -reader.doc_frequency("spell", c), c) for c in candidates
    )
    return ranked[0][2] if ranked and ranked[0][0] <= allowed else None


def exact_name_key(name: str) -> str:
    """A product name reduced to the form a query for it would take."""
    return " ".join(analyse_query(name))


class ProductDocument(TypedDict):
    """One product as the index stores it."""

    id: str
    text: str
    name_exact: str
    spell: str
    category: str
    tags: str
    district: str
    scale: str
    price: int
    lead_time_hours: int
    created: int
    rating: int
    rating_count: int


def build_document(
    *,
    product_id: int,
    name: str,
    description: str,
    category_slug: str,
    category_names: Iterable[str],
    vendor_name: str,
    tags: Iterable[str],
    district: str,
    scale: str,
    price: int,
    lead_time_hours: int,
    created: int,
    rating: int = 0,
    rating_count: int = 0,
) -> ProductDocument:
    """The index document of a product, from plain values (see `catalog.search` for models)."""
    category_text = " ".join(category_names)
    return ProductDocument(
        id=str(product_id),
        text=weighted_text(
            (
                ("name", name),
                ("category", category_text),
                ("vendor", vendor_name),
                ("description", description),
            )
        ),
        name_exact=exact_name_key(name),
        # Suggestions come from what buyers look for: names and categories, not descriptions.
        spell=f"{name} {category_text}",
        category=category_slug,
        tags=",".join(sorted(set(tags))),
        district=district,
        scale=scale,
        price=price,
        lead_time_hours=lead_time_hours,
        created=created,
        rating=rating,
        rating_count=rating_count,
    )


_QUERY_ANALYZER = query_analyzer()
_SPELLING_TOKENIZER = RegexTokenizer() | LowercaseFilter()
