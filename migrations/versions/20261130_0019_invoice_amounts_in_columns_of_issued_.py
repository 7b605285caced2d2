"""Invoice amounts in columns of issued documents

Each invoice's gross, charged and withheld taxes and net payable, which lived only inside
its JSON content, get columns of their own, filled from that content for the documents
already issued, and an index that covers an order's invoice and its amounts.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 12:53:33.356958

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0019'
down_revision: Union[str, Sequence[str], None] = '0018'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

AMOUNTS = ('gross', 'charged_total', 'withheld_total', 'net_payable')
#: where each amount sits inside an invoice's content
PATHS = {
    'gross': ('gross',),
    'charged_total': ('taxes', 'charged_total'),
    'withheld_total': ('taxes', 'withheld_total'),
    'net_payable': ('net_payable',),
}
INDEX = 'ix_issued_documents_order_kind_amounts'


def _check(column: str) -> str:
    return f'{column} IS NULL OR {column} >= 0'


def upgrade() -> None:
    """Upgrade schema."""
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        # A column CHECK in ADD COLUMN, not a batch copy of the table: the table holds every
        # document's content (over a gigabyte at provincial scale).
        for column in AMOUNTS:
            op.execute(
                f'ALTER TABLE issued_documents ADD COLUMN {column} BIGINT'
                f' CONSTRAINT ck_issued_documents_{column}_ok CHECK ({_check(column)})'
            )
        values = ', '.join(
            f"{column} = json_extract(content, '$.{'.'.join(PATHS[column])}')"
            for column in AMOUNTS
        )
        op.execute(f"UPDATE issued_documents SET {values} WHERE kind = 'invoice'")
    else:
        for column in AMOUNTS:
            op.add_column('issued_documents', sa.Column(column, sa.BigInteger(), nullable=True))
            op.create_check_constraint(
                op.f(f'ck_issued_documents_{column}_ok'), 'issued_documents', _check(column)
            )

        def extract(path: tuple[str, ...]) -> str:
            *parents, leaf = path
            return ''.join(f"->'{key}'" for key in parents) + f"->>'{leaf}'"

        values = ', '.join(
            f'{column} = (content{extract(PATHS[column])})::bigint' for column in AMOUNTS
        )
        # The documents never change once issued, and a trigger says so; this copies what
        # they already state into the new columns, so the trigger stands aside meanwhile.
        op.execute('ALTER TABLE issued_documents DISABLE TRIGGER issued_documents_immutable')
        op.execute(f"UPDATE issued_documents SET {values} WHERE kind = 'invoice'")
        op.execute('ALTER TABLE issued_documents ENABLE TRIGGER issued_documents_immutable')
    op.create_index(
        INDEX,
        'issued_documents',
        ['order_id', 'kind', 'id', 'net_payable', 'gross', 'withheld_total', 'charged_total'],
        unique=False,
    )
    op.execute('ANALYZE issued_documents')


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(INDEX, table_name='issued_documents')
    for column in reversed(AMOUNTS):
        # SQLite drops a column whose CHECK is its own in place (3.35 and later).
        op.execute(f'ALTER TABLE issued_documents DROP COLUMN {column}')
