"""Health checks: alive without the database, ready only when every dependency answers."""

from __future__ import annotations

import socket
import threading

import pytest

from marketplace import create_app
from marketplace.config import TestingConfig


def _app(database_url: str, search_dir: str, **settings):  # type: ignore[no-untyped-def]
    class Config(TestingConfig):
        DATABASE_URL = database_url
        SEARCH_INDEX_DIR = search_dir

    for name, value in settings.items():
        setattr(Config, name, value)
    return create_app(Config)


def _readyz(app):  # type: ignore[no-untyped-def]
    try:
        return app.test_client().get("/readyz")
    finally:
        app.extensions["db_engine"].dispose()


def test_healthz_is_alive(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


def test_healthz_needs_no_database(tmp_path):
    broken = _app(f"sqlite:///{tmp_path / 'missing' / 'db.sqlite'}", str(tmp_path / "index"))
    assert broken.test_client().get("/healthz").status_code == 200


def test_readyz_when_everything_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ok"
    assert {"database", "search_index"} <= set(body["checks"])  # and redis if REDIS_URL is set
    assert all(check["ok"] for check in body["checks"].values())
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


def test_health_sets_no_cookie_for_a_logged_in_person(client, world, login):
    login(world.requester)
    for url in ("/healthz", "/readyz", "/health"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "Set-Cookie" not in response.headers, url


def test_readyz_names_a_broken_database(tmp_path):
    response = _readyz(
        _app(f"sqlite:///{tmp_path / 'missing' / 'db.sqlite'}", str(tmp_path / "index"))
    )
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["failing"] == ["database"]
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["search_index"]["ok"] is True
    assert "missing" not in response.get_data(as_text=True)  # no paths or hosts in the answer
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_names_an_unreadable_search_index(tmp_path, database_url):
    not_a_directory = tmp_path / "index"
    not_a_directory.write_text("not an index")
    response = _readyz(_app(database_url, str(not_a_directory)))
    assert response.status_code == 503
    assert response.get_json()["failing"] == ["search_index"]


def test_readyz_pings_redis_when_configured(tmp_path, database_url):
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    app = _app(database_url, str(tmp_path / "index"), REDIS_URL="redis://127.0.0.1:6379/0")
    response = _readyz(app)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["checks"]["redis"]["ok"] is True


def _not_redis() -> int:
    """A TCP server that answers anything with an error, as a port that is not Redis."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with listener:
            connection, _ = listener.accept()
            with connection:
                connection.recv(512)
                connection.sendall(b"-ERR not redis\r\n")

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


def test_readyz_names_a_redis_that_does_not_pong(tmp_path, database_url):
    url = f"redis://127.0.0.1:{_not_redis()}/0"
    response = _readyz(_app(database_url, str(tmp_path / "index"), REDIS_URL=url))
    assert response.status_code == 503
    assert response.get_json()["failing"] == ["redis"]


def test_readyz_names_an_unreachable_redis(tmp_path, database_url):
    free = socket.create_server(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens there now
    url = f"redis://127.0.0.1:{port}/0"
    response = _readyz(_app(database_url, str(tmp_path / "index"), REDIS_URL=url))
    assert response.status_code == 503
    assert response.get_json()["failing"] == ["redis"]
