"""Imports every model so that the metadata is complete (for Alembic and test set-up)."""

from catalog.db import Base
from catalog.models import (
    Category,
    PriceChange,
    Product,
    ProductPhoto,
    Vendor,
    VendorClosedDay,
    VendorDocument,
)
from marketplace.accounts.models import Agency, AgencyAddress, Membership, User
from marketplace.audit.models import AuditEvent
from marketplace.budgets.models import BudgetEntry, BudgetLine
from marketplace.notifications.models import Notification
from marketplace.ordering.caps import PaxPriceCap
from marketplace.ordering.models import Order, OrderLine

metadata = Base.metadata

__all__ = [
    "Agency",
    "AgencyAddress",
    "AuditEvent",
    "Base",
    "BudgetEntry",
    "BudgetLine",
    "Category",
    "Membership",
    "Notification",
    "Order",
    "OrderLine",
    "PaxPriceCap",
    "PriceChange",
    "Product",
    "ProductPhoto",
    "User",
    "Vendor",
    "VendorClosedDay",
    "VendorDocument",
    "metadata",
]
