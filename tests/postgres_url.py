"""Print the URL of a PostgreSQL test database if one answers on 127.0.0.1:5432.

Used by `make test`: TEST_DATABASE_URL wins; otherwise a local server is tried and its
`eorder_test` database created when missing. Prints nothing when PostgreSQL is not there.
"""

from __future__ import annotations

import os
import sys

import psycopg

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "eorder_test"


def main() -> int:
    if os.environ.get("TEST_DATABASE_URL"):
        print(os.environ["TEST_DATABASE_URL"])
        return 0
    try:
        with psycopg.connect(DEFAULT_ADMIN_URL, connect_timeout=3, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')
    except psycopg.OperationalError:
        return 0
    print(f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
