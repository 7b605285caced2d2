"""The password policy: long enough, not on the list of common passwords, not one's own name."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from flask_babel import lazy_gettext as _l

from marketplace.errors import DomainError

MIN_PASSWORD_LENGTH = 12
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")

# "Jakarta2026!" is "jakarta" with decoration: digits and symbols at either end add little.
_DECORATION = re.compile(r"^[\W\d_]+|[\W\d_]+$")
_NOT_ALNUM = re.compile(r"[\W_]+")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().lower() for line in lines if line.strip() and not line.startswith("# ")
    )


def is_common(password: str) -> bool:
    """On the list, alone or with digits and symbols around it, or repeated ("abcabcabcabc")."""
    normalised = password.strip().lower()
    common = common_passwords()
    base = _DECORATION.sub("", normalised)
    if normalised in common or (base and base in common):
        return True
    if len(set(normalised)) < 4:
        return True
    for size in range(1, len(base) // 2 + 1):
        unit = base[:size]
        if len(base) % size == 0 and unit * (len(base) // size) == base:
            return size <= 3 or unit in common
    return False


def _personal_words(email: str, name: str) -> set[str]:
    local = email.split("@", 1)[0]
    words = {email, local, name, *name.split()}
    return {_NOT_ALNUM.sub("", w.lower()) for w in words} - {""}


def is_personal(password: str, *, email: str = "", name: str = "") -> bool:
    """The person's e-mail address or name, whatever the case, spacing or decoration."""
    personal = _personal_words(email, name)
    plain = _NOT_ALNUM.sub("", password.lower())
    stripped = _NOT_ALNUM.sub("", _DECORATION.sub("", password.strip().lower()))
    return plain in personal or stripped in personal


def check_password_strength(
    password: str, *, email: str = "", name: str = "", field: str = "password"
) -> None:
    """Raise a DomainError on `field` when the password breaks the policy."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(
            _l("Use at least %(n)d characters for the password.", n=MIN_PASSWORD_LENGTH),
            field=field,
        )
    if is_personal(password, email=email, name=name):
        raise DomainError(
            _l("Do not use your email address or your name as the password."), field=field
        )
    if is_common(password):
        raise DomainError(
            _l("This password is too common and easy to guess. Choose another one."),
            field=field,
        )
