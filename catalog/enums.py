"""The catalogue's vocabularies: statuses, kinds and units, stored by value, with labels."""

from __future__ import annotations

from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import Enum


def enum_column(enum_cls: type[StrEnum], length: int = 20) -> Enum:
    """Store a StrEnum by its value, as a plain string column on every database."""
    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class VendorStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    SUSPENDED = "suspended"

    @property
    def label(self) -> str:
        return str(
            {
                "pending": _l("Awaiting verification"),
                "verified": _l("Verified"),
                "suspended": _l("Suspended"),
            }[self.value]
        )


class BusinessType(StrEnum):
    CATERER = "caterer"
    RESTAURANT = "restaurant"
    SHOP = "shop"
    HOME_INDUSTRY = "home_industry"

    @property
    def label(self) -> str:
        return str(
            {
                "caterer": _l("Caterer"),
                "restaurant": _l("Restaurant"),
                "shop": _l("Shop"),
                "home_industry": _l("Home industry"),
            }[self.value]
        )


class BusinessScale(StrEnum):
    MICRO = "micro"
    SMALL = "small"
    MEDIUM = "medium"

    @property
    def label(self) -> str:
        return str({"micro": _l("Micro"), "small": _l("Small"), "medium": _l("Medium")}[self.value])


class Unit(StrEnum):
    BOX = "box"
    PAX = "pax"
    PORTION = "portion"
    PACKAGE = "package"
    LITRE = "litre"
    PIECE = "piece"

    @property
    def label(self) -> str:
        return str(
            {
                "box": _l("box"),
                "pax": _l("pax"),
                "portion": _l("portion"),
                "package": _l("package"),
                "litre": _l("litre"),
                "piece": _l("piece"),
            }[self.value]
        )


class ProductStatus(StrEnum):
    PUBLISHED = "published"
    PAUSED = "paused"

    @property
    def label(self) -> str:
        return str({"published": _l("Published"), "paused": _l("Paused")}[self.value])


class ReviewState(StrEnum):
    """Where a listing stands with the curator."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        return str(
            {
                "pending": _l("Waiting for the curator"),
                "approved": _l("Approved"),
                "rejected": _l("Rejected by the curator"),
            }[self.value]
        )


class DietaryTag(StrEnum):
    HALAL = "halal"
    VEGETARIAN = "vegetarian"
    VEGAN = "vegan"
    NO_SEAFOOD = "no_seafood"
    NO_NUTS = "no_nuts"
    LOW_SUGAR = "low_sugar"

    @property
    def label(self) -> str:
        return str(
            {
                "halal": _l("Halal"),
                "vegetarian": _l("Vegetarian"),
                "vegan": _l("Vegan"),
                "no_seafood": _l("No seafood"),
                "no_nuts": _l("No nuts"),
                "low_sugar": _l("Low sugar"),
            }[self.value]
        )


class DocumentKind(StrEnum):
    HALAL = "halal"
    PIRT = "pirt"
    SLHS = "slhs"

    @property
    def label(self) -> str:
        return str(
            {
                "halal": _l("Halal certificate"),
                "pirt": _l("Home-industry food permit (PIRT)"),
                "slhs": _l("Hygiene and sanitation certificate (SLHS)"),
            }[self.value]
        )


class DocumentStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        return str(
            {
                "pending": _l("Waiting for the curator"),
                "verified": _l("Verified"),
                "rejected": _l("Rejected"),
                "expired": _l("Expired"),
            }[self.value]
        )
