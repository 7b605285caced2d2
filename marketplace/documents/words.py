"""Rupiah amounts in Indonesian words ("terbilang"), as official documents write them."""

from __future__ import annotations

_ONES = [
    "",
    "satu",
    "dua",
    "tiga",
    "empat",
    "lima",
    "enam",
    "tujuh",
    "delapan",
    "sembilan",
    "sepuluh",
    "sebelas",
]
_SCALES = [(10**12, "triliun"), (10**9, "miliar"), (10**6, "juta")]


def _below_thousand(n: int) -> str:
    if n < 12:
        return _ONES[n]
    if n < 20:
        return f"{_ONES[n - 10]} belas"
    if n < 100:
        tens, rest = divmod(n, 10)
        return f"{_ONES[tens]} puluh {_ONES[rest]}".strip()
    hundreds, rest = divmod(n, 100)
    head = "seratus" if hundreds == 1 else f"{_ONES[hundreds]} ratus"
    return f"{head} {_below_thousand(rest)}".strip()


def number_in_words(n: int) -> str:
    """1_250_000 -> "satu juta dua ratus lima puluh ribu"; 0 -> "nol"."""
    if n < 0:
        raise ValueError("amounts in words are never negative")
    if n == 0:
        return "nol"
    parts = []
    for scale, name in _SCALES:
        count, n = divmod(n, scale)
        if count:
            parts.append(f"{number_in_words(count)} {name}")
    thousands, n = divmod(n, 1000)
    if thousands == 1:
        parts.append("seribu")
    elif thousands:
        parts.append(f"{_below_thousand(thousands)} ribu")
    if n:
        parts.append(_below_thousand(n))
    return " ".join(parts)


def rupiah_in_words(amount: int) -> str:
    return f"{number_in_words(amount)} rupiah".capitalize()
