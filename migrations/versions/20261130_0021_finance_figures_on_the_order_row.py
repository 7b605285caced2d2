"""Finance figures on the order row

Each order carries its current invoice's gross and net payable and its payment totals
(paid, refunded, how many payments, how many in full, the latest value date), so that the
finance pages sum one index of the orders instead of finding every order's current invoice
and payment totals. The totals are copied from `order_payment_totals`, which nothing reads
any more but which stays for one release, for nodes still on the previous one during a
rolling upgrade, except that the refund of a held card charge, which paid the vendor
nothing, no longer counts as refunded; the invoice amounts are copied from each order's
current invoice. The index of an agency's
orders by status grows to cover them, and the index of a budget line's received orders
covers their refunds; the index of orders by status and receipt covers the reports' sums.
Each received order's amounts per product category get a table of their own, filled from
the received lines, for the spending report's split by category.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 16:05:00

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "0021"
down_revision: Union[str, Sequence[str], None] = "0020"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

INDEX = "ix_orders_agency_status"
COVERED = [
    "agency_id",
    "status",
    "received_at",
    "received_total",
    "invoice_gross",
    "net_payable",
    "paid_total",
    "refunded_total",
    "payment_count",
    "full_payment_count",
    "last_paid_on",
    "id",
]
PERIOD_INDEX = "ix_orders_status_received_at"
PERIOD_COVERED = [
    "status",
    "received_at",
    "agency_id",
    "vendor_id",
    "received_total",
    "payment_count",
    "last_paid_on",
]
LINE_INDEX = "ix_orders_line_status_received"
LINE_COVERED = ["budget_line_id", "status", "received_total", "refunded_total"]
#: column, type, NOT NULL DEFAULT 0, CHECK
COLUMNS = [
    (
        "invoice_gross",
        "BIGINT",
        False,
        "invoice_gross IS NULL OR invoice_gross >= 0",
        "invoice_gross_ok",
    ),
    ("net_payable", "BIGINT", False, "net_payable IS NULL OR net_payable >= 0", "net_payable_ok"),
    ("paid_total", "BIGINT", True, "paid_total >= 0", "paid_total_non_negative"),
    ("refunded_total", "BIGINT", True, "refunded_total >= 0", "refunded_total_non_negative"),
    ("payment_count", "INTEGER", True, "payment_count >= 0", "payment_count_non_negative"),
    (
        "full_payment_count",
        "INTEGER",
        True,
        "full_payment_count >= 0",
        "full_payment_count_non_negative",
    ),
]

CURRENT_INVOICES = """
UPDATE orders SET (invoice_gross, net_payable) = (
    SELECT d.gross, d.net_payable FROM issued_documents AS d
    WHERE d.order_id = orders.id AND d.kind = 'invoice'
      AND NOT EXISTS (SELECT 1 FROM issued_documents AS n WHERE n.supersedes_id = d.id)
)
WHERE id IN (SELECT order_id FROM issued_documents WHERE kind = 'invoice')
"""
TOTALS = """
UPDATE orders SET (paid_total, refunded_total, payment_count, full_payment_count, last_paid_on) = (
    SELECT t.paid, t.refunded, t.payments, t.full_payments, t.last_paid_on
    FROM order_payment_totals AS t WHERE t.order_id = orders.id
)
WHERE id IN (SELECT order_id FROM order_payment_totals)
"""
BY_CATEGORY = """
INSERT INTO received_by_category (order_id, category_id, agency_id, received_at, amount)
SELECT o.id, p.category_id, o.agency_id, o.received_at, SUM(l.unit_price * l.quantity_received)
FROM orders AS o
JOIN order_lines AS l ON l.order_id = o.id
JOIN products AS p ON p.id = l.product_id
WHERE o.status IN ('received', 'paid', 'reconciled') AND o.received_at IS NOT NULL
  AND l.quantity_received > 0
GROUP BY o.id, p.category_id, o.agency_id, o.received_at
"""
#: refunds as this release counts them: of succeeded payments only (the previous one also
#: counted the refund of a held card charge, which paid the vendor nothing)
REFUNDED = """
UPDATE orders SET refunded_total = (
    SELECT COALESCE(SUM(r.amount), 0) FROM refunds AS r JOIN payments AS p ON p.id = r.payment_id
    WHERE r.order_id = orders.id AND r.status = 'succeeded' AND p.status = 'succeeded'
)
WHERE id IN (
    SELECT r.order_id FROM refunds AS r JOIN payments AS p ON p.id = r.payment_id
    WHERE r.status = 'succeeded' AND p.status <> 'succeeded'
)
"""
#: the totals as the previous release kept them, its refunds of held card charges included
TOTALS_BACK = """
INSERT INTO order_payment_totals (order_id, paid, refunded, payments, full_payments, last_paid_on)
SELECT o.id, o.paid_total,
       (SELECT COALESCE(SUM(r.amount), 0) FROM refunds AS r
        WHERE r.order_id = o.id AND r.status = 'succeeded'),
       o.payment_count, o.full_payment_count, o.last_paid_on
FROM orders AS o
WHERE o.paid_total <> 0 OR o.payment_count <> 0 OR o.last_paid_on IS NOT NULL
   OR EXISTS (SELECT 1 FROM refunds AS r WHERE r.order_id = o.id AND r.status = 'succeeded')
"""


def upgrade() -> None:
    """Upgrade schema."""
    dialect = op.get_bind().dialect.name
    for column, kind, not_null, check, name in COLUMNS:
        default = " NOT NULL DEFAULT 0" if not_null else ""
        if dialect == "sqlite":
            # a column CHECK in ADD COLUMN, not a batch copy of the orders table
            op.execute(
                f"ALTER TABLE orders ADD COLUMN {column} {kind}{default}"
                f" CONSTRAINT ck_orders_{name} CHECK ({check})"
            )
        else:
            op.execute(f"ALTER TABLE orders ADD COLUMN {column} {kind}{default}")
            op.create_check_constraint(op.f(f"ck_orders_{name}"), "orders", check)
    op.add_column("orders", sa.Column("last_paid_on", sa.Date(), nullable=True))
    op.execute(CURRENT_INVOICES)
    op.execute(TOTALS)
    op.execute(REFUNDED)
    op.drop_index(INDEX, table_name="orders")
    op.create_index(INDEX, "orders", COVERED, unique=False)
    op.drop_index(LINE_INDEX, table_name="orders")
    op.create_index(LINE_INDEX, "orders", LINE_COVERED, unique=False)
    op.drop_index(PERIOD_INDEX, table_name="orders")
    op.create_index(PERIOD_INDEX, "orders", PERIOD_COVERED, unique=False)
    op.create_table(
        "received_by_category",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_received_by_category_amount_positive")),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_received_by_category_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_received_by_category_category_id_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_received_by_category_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", "category_id", name=op.f("pk_received_by_category")),
    )
    op.execute(BY_CATEGORY)
    op.create_index(
        "ix_received_by_category_report",
        "received_by_category",
        ["category_id", "received_at", "agency_id", "amount"],
        unique=False,
    )
    op.execute("ANALYZE orders")
    op.execute("ANALYZE received_by_category")


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_received_by_category_report", table_name="received_by_category")
    op.drop_table("received_by_category")
    op.drop_index(PERIOD_INDEX, table_name="orders")
    op.create_index(PERIOD_INDEX, "orders", PERIOD_COVERED[:2], unique=False)
    # the totals as this release kept them, for the previous release's readers
    op.execute("DELETE FROM order_payment_totals")
    op.execute(TOTALS_BACK)
    op.drop_index(INDEX, table_name="orders")
    op.create_index(INDEX, "orders", ["agency_id", "status"], unique=False)
    op.drop_index(LINE_INDEX, table_name="orders")
    op.create_index(LINE_INDEX, "orders", LINE_COVERED[:-1], unique=False)
    dialect = op.get_bind().dialect.name
    for column, _kind, _not_null, _check, name in reversed(COLUMNS):
        if dialect != "sqlite":
            op.drop_constraint(op.f(f"ck_orders_{name}"), "orders", type_="check")
        # SQLite drops a column whose CHECK is its own in place (3.35 and later)
        op.execute(f"ALTER TABLE orders DROP COLUMN {column}")
    op.drop_column("orders", "last_paid_on")
