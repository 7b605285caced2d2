"""Languages: money and time formats, and a complete Indonesian catalogue."""

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from marketplace.i18n import rupiah

PO = Path(__file__).parents[2] / "marketplace/translations/id/LC_MESSAGES/messages.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def indonesian_catalog():
    with PO.open("rb") as handle:
        return read_po(handle)


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (0, "Rp 0"),
        (7_000, "Rp 7.000"),
        (1_250_000, "Rp 1.250.000"),
        (50_000_000_000, "Rp 50.000.000.000"),
        (-35_000, "-Rp 35.000"),
        (None, "–"),
    ],
)
def test_rupiah(amount, shown):
    assert rupiah(amount) == shown


def test_every_message_has_an_indonesian_translation_with_the_same_placeholders():
    catalog = indonesian_catalog()
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings) and not message.fuzzy, f"untranslated: {ids[0]!r}"
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == wanted, ids[0]


def test_the_catalogue_holds_every_message_of_the_source():
    from babel.messages.extract import extract_from_dir

    root = Path(__file__).parents[2]
    catalog = indonesian_catalog()
    known = {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalog if m.id}
    method_map = [
        ("marketplace/**.py", "python"),
        ("catalog/**.py", "python"),
        ("templates/**.html", "jinja2"),
    ]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    missing = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        root, method_map=method_map, keywords=keywords
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid not in known:
            missing.add(msgid)
    assert not missing, f"run `make extract-messages` and translate: {sorted(missing)[:10]}"


def test_times_are_shown_in_jakarta(app):
    from datetime import UTC, datetime

    from marketplace.i18n import local_datetime

    with app.test_request_context():
        shown = local_datetime(datetime(2026, 11, 26, 2, 0, tzinfo=UTC), "HH:mm")
    assert shown == "09:00"
