"""Test set-up: one migrated database per run (SQLite, or PostgreSQL via TEST_DATABASE_URL),
emptied after every test, an app bound to it, a session for arranging and checking data, and
a client that logs in as any demo person."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from marketplace import create_app
from marketplace.all_models import metadata
from marketplace.config import TestingConfig
from marketplace.db import make_engine
from marketplace.migrate import upgrade
from marketplace.search import catalog_index
from tests.support import PASSWORD


def _database_url(tmp_dir: Path) -> str:
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_dir / 'test.sqlite'}"


def _reset_postgres(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def search_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("search"))


@pytest.fixture(scope="session")
def upload_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("uploads"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = _database_url(tmp_path_factory.mktemp("db"))
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        _reset_postgres(engine)
    upgrade(engine)
    engine.dispose()
    yield url


@pytest.fixture(scope="session")
def app(database_url: str, upload_dir: str, search_dir: str) -> Iterator[Flask]:
    class Config(TestingConfig):
        DATABASE_URL = database_url
        UPLOAD_DIR = upload_dir
        SEARCH_INDEX_DIR = search_dir
        WTF_CSRF_ENABLED = False

    application = create_app(Config)
    application.test_client_class = CommittingClient
    yield application
    application.extensions["db_engine"].dispose()


@pytest.fixture(scope="session")
def csrf_app(database_url: str, upload_dir: str, search_dir: str) -> Iterator[Flask]:
    """The app exactly as deployed: CSRF checked on every form."""

    class Config(TestingConfig):
        DATABASE_URL = database_url
        UPLOAD_DIR = upload_dir
        SEARCH_INDEX_DIR = search_dir

    application = create_app(Config)
    application.test_client_class = CommittingClient
    yield application
    application.extensions["db_engine"].dispose()


class CommittingClient(FlaskClient):
    """Ends the test's own transaction before each request and expires it afterwards.

    Tests arrange data with `db` (flush is enough); the request then sees it committed, and
    whatever the test reads afterwards comes fresh from the database.
    """

    test_session: Session | None = None

    def open(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.test_session is not None:
            self.test_session.commit()
        response = super().open(*args, **kwargs)
        if self.test_session is not None:
            self.test_session.expire_all()
        return response


def _empty_all_tables(engine: Engine) -> None:
    tables = list(reversed(metadata.sorted_tables))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(table.name for table in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    """A session for arranging and checking data; every table is emptied afterwards.

    No app context is pushed here: requests made by the test client must run in their own
    context, with their own session, as they do in production.
    """
    session = app.extensions["db_sessionmaker"]()
    yield session
    session.rollback()
    session.close()
    _empty_all_tables(app.extensions["db_engine"])
    with app.extensions["db_sessionmaker"]() as empty:
        catalog_index(app.config["SEARCH_INDEX_DIR"]).rebuild(empty)


@pytest.fixture
def client(app: Flask, db: Session) -> CommittingClient:
    """A browser whose person chose English, so that tests read the source messages.

    Indonesian, the default, is tested explicitly by switching back to it.
    """
    test_client = app.test_client()
    test_client.test_session = db  # type: ignore[attr-defined]
    with test_client.session_transaction() as session:
        session["lang"] = "en"
    return test_client  # type: ignore[return-value]


@pytest.fixture
def csrf_client(csrf_app: Flask, db: Session) -> CommittingClient:
    test_client = csrf_app.test_client()
    test_client.test_session = db  # type: ignore[attr-defined]
    return test_client  # type: ignore[return-value]


@pytest.fixture
def login(client: CommittingClient):  # type: ignore[no-untyped-def]
    """login(user) logs the test client in as that user (through the real login form)."""

    def _login(user, password: str = PASSWORD):  # type: ignore[no-untyped-def]
        client.post("/logout")
        response = client.post("/login", data={"email": user.email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return _login


@pytest.fixture
def world(db: Session):  # type: ignore[no-untyped-def]
    from tests.support import build_world

    return build_world(db)
