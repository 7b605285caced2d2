"""A vendor's business details: checking identity numbers, service area and capacity."""

from __future__ import annotations

import re
from datetime import date, time
from functools import cache

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, bindparam, exists, inspect, select
from sqlalchemy.orm import Session, object_session

from catalog.models import Vendor, VendorClosedDay
from catalog.services import ListingError

_SEPARATORS = re.compile(r"[\s.\-/]")


def _digits(raw: str) -> str:
    return _SEPARATORS.sub("", raw or "")


def normalise_nib(raw: str) -> str:
    """NIB (Nomor Induk Berusaha): exactly 13 digits; dots, dashes and spaces are ignored."""
    nib = _digits(raw)
    if not re.fullmatch(r"\d{13}", nib):
        raise ListingError("nib", _l("The NIB has exactly 13 digits."))
    return nib


def normalise_npwp(raw: str | None) -> str | None:
    """NPWP: 15 digits (old format) or 16 (NIK-based); optional."""
    if not raw or not raw.strip():
        return None
    npwp = _digits(raw)
    if not re.fullmatch(r"\d{15}|\d{16}", npwp):
        raise ListingError("npwp", _l("The NPWP has 15 or 16 digits."))
    return npwp


def normalise_bank_account(raw: str) -> str:
    account = _digits(raw)
    if not re.fullmatch(r"\d{5,20}", account):
        raise ListingError("bank_account_number", _l("Enter the account number, 5 to 20 digits."))
    return account


def parse_districts(raw: str, home_district: str = "") -> list[str]:
    """Districts (kecamatan) from a comma- or line-separated list, tidy and without repeats.

    The vendor's own district is always served.
    """
    names = [part.strip() for part in re.split(r"[,\n;]", raw or "")]
    districts: list[str] = []
    for name in [home_district.strip(), *names]:
        tidy = " ".join(name.split()).title()
        if tidy and tidy.lower() not in {d.lower() for d in districts}:
            districts.append(tidy)
    if not districts:
        raise ListingError("service_districts", _l("Name at least one district you deliver to."))
    if len(districts) > 100:
        raise ListingError("service_districts", _l("Name at most 100 districts."))
    return districts


def serves_district(vendor: Vendor, district: str) -> bool:
    wanted = " ".join(district.split()).lower()
    return any(d.lower() == wanted for d in vendor.service_districts or [])


def set_capacity(
    session: Session, vendor: Vendor, max_portions_per_day: int | None, order_cutoff: time | None
) -> None:
    if max_portions_per_day is not None and max_portions_per_day < 1:
        raise ListingError("max_portions_per_day", _l("The daily capacity must be at least 1."))
    vendor.max_portions_per_day = max_portions_per_day
    vendor.order_cutoff = order_cutoff
    session.flush()


def add_closed_day(session: Session, vendor: Vendor, day: date, reason: str, today: date) -> None:
    if day < today:
        raise ListingError("day", _l("Choose today or a later day."))
    if any(closed.day == day for closed in vendor.closed_days):
        raise ListingError("day", _l("This day is already marked closed."))
    vendor.closed_days.append(VendorClosedDay(day=day, reason=reason.strip()[:200]))
    session.flush()


def remove_closed_day(session: Session, vendor: Vendor, closed_day_id: int) -> None:
    closed = next((c for c in vendor.closed_days if c.id == closed_day_id), None)
    if closed is None:
        raise ListingError("day", _l("No such closed day."))
    vendor.closed_days.remove(closed)
    session.flush()


def is_closed_on(vendor: Vendor, day: date) -> bool:
    """Whether the vendor is closed on `day`: from its closed days if they are loaded (a
    closed day added to a list not loaded yet counts as loading it), otherwise by asking the
    database about that day alone (a vendor may have many)."""
    session = object_session(vendor)
    if session is None or "closed_days" not in inspect(vendor).unloaded:
        return any(closed.day == day for closed in vendor.closed_days)
    return bool(session.scalar(_closed_on_query(), {"closed_vendor": vendor.id, "closed_day": day}))


@cache
def _closed_on_query() -> Select[tuple[bool]]:
    return select(
        exists().where(
            VendorClosedDay.vendor_id == bindparam("closed_vendor"),
            VendorClosedDay.day == bindparam("closed_day"),
        )
    )
