"""Imports every model so that the metadata is complete (for Alembic and test set-up)."""

from catalog.changes import CatalogChange
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
from marketplace.accounts.models import Agency, AgencyAddress, Membership, RecoveryCode, User
from marketplace.api.models import ApiToken
from marketplace.audit.models import AuditEvent
from marketplace.budgets.models import BudgetEntry, BudgetLine
from marketplace.delivery.models import OrderPhoto
from marketplace.documents.models import DocumentCounter, IssuedDocument
from marketplace.notifications.models import Notification, NotificationPreference, OutboxMessage
from marketplace.ordering.caps import PaxPriceCap
from marketplace.ordering.models import Order, OrderLine
from marketplace.payments.models import (
    ClosedPeriod,
    ExplainedException,
    Payment,
    PaymentAllocation,
    Refund,
    StripeEvent,
)
from marketplace.ratings.models import VendorRating
from marketplace.taxes.models import TaxRule
from marketplace.worker.models import ScheduledJob

metadata = Base.metadata

__all__ = [
    "Agency",
    "AgencyAddress",
    "ApiToken",
    "AuditEvent",
    "Base",
    "BudgetEntry",
    "BudgetLine",
    "CatalogChange",
    "Category",
    "ClosedPeriod",
    "DocumentCounter",
    "ExplainedException",
    "IssuedDocument",
    "Membership",
    "Notification",
    "NotificationPreference",
    "Order",
    "OrderLine",
    "OrderPhoto",
    "OutboxMessage",
    "PaxPriceCap",
    "Payment",
    "PaymentAllocation",
    "PriceChange",
    "Product",
    "ProductPhoto",
    "RecoveryCode",
    "Refund",
    "ScheduledJob",
    "StripeEvent",
    "TaxRule",
    "User",
    "Vendor",
    "VendorClosedDay",
    "VendorDocument",
    "VendorRating",
    "metadata",
]
