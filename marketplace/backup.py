"""Backups: the database (SQLite's online backup API, or pg_dump for PostgreSQL) and the
uploaded files, into one directory per backup, with a manifest to check a restore against."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from marketplace.all_models import metadata


@dataclass(frozen=True)
class BackupResult:
    directory: Path
    database_file: Path
    uploads_file: Path | None
    row_counts: dict[str, int]


def table_row_counts(engine: Engine) -> dict[str, int]:
    """Rows per table of the application's schema: what a restore must give back."""
    with engine.connect() as connection:
        return {
            table.name: int(connection.execute(select(func.count()).select_from(table)).scalar())
            for table in metadata.sorted_tables
        }


def _pg_environment(url: str) -> tuple[list[str], dict[str, str]]:
    """pg_dump/pg_restore connection arguments; the password goes through the environment."""
    parsed = make_url(url)
    arguments = ["--host", parsed.host or "127.0.0.1", "--port", str(parsed.port or 5432)]
    if parsed.username:
        arguments += ["--username", parsed.username]
    environment = dict(os.environ)
    if parsed.password:
        environment["PGPASSWORD"] = str(parsed.password)
    return arguments, environment


def _tool(name: str) -> str:
    """The absolute path of a PostgreSQL client tool, or a clear error when it is missing."""
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed (Debian: postgresql-client)")
    return path


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ValueError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def backup(engine: Engine, url: str, upload_dir: Path, target: Path) -> BackupResult:
    """Write `<target>/eorder-<UTC time>/` with the database, the uploads and a manifest."""
    source_path = _sqlite_path(url) if engine.dialect.name == "sqlite" else None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    directory = target / f"eorder-{stamp}"
    directory.mkdir(parents=True, exist_ok=False)
    counts = table_row_counts(engine)
    if engine.dialect.name == "sqlite":
        database_file = directory / "database.sqlite"
        source = sqlite3.connect(source_path)
        destination = sqlite3.connect(database_file)
        try:
            source.backup(destination)  # a consistent copy while the app keeps running
        finally:
            destination.close()
            source.close()
    else:
        database_file = directory / "database.pgdump"
        arguments, environment = _pg_environment(url)
        subprocess.run(  # noqa: S603 - fixed executable, arguments from configuration
            [
                _tool("pg_dump"),
                *arguments,
                "--format=custom",
                "--no-owner",
                "--file",
                str(database_file),
                make_url(url).database or "",
            ],
            check=True,
            env=environment,
            capture_output=True,
        )
    uploads_file = None
    if upload_dir.is_dir():
        uploads_file = directory / "uploads.tar.gz"
        with tarfile.open(uploads_file, "w:gz") as archive:
            archive.add(upload_dir, arcname="uploads")
    manifest = {
        "created_at": stamp,
        "dialect": engine.dialect.name,
        "row_counts": counts,
        "files": {
            path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in (database_file, uploads_file)
            if path is not None
        },
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return BackupResult(directory, database_file, uploads_file, counts)


def restore_database(backup_dir: Path, url: str) -> None:
    """Restore a backup's database into the (empty) database at `url`."""
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    if manifest["dialect"] == "sqlite":
        shutil.copyfile(backup_dir / "database.sqlite", _sqlite_path(url))
        return
    arguments, environment = _pg_environment(url)
    subprocess.run(  # noqa: S603 - fixed executable, arguments from configuration
        [
            _tool("pg_restore"),
            *arguments,
            "--no-owner",
            "--exit-on-error",
            "--dbname",
            make_url(url).database or "",
            str(backup_dir / "database.pgdump"),
        ],
        check=True,
        env=environment,
        capture_output=True,
    )


def verify_restore(backup_dir: Path, engine: Engine) -> list[str]:
    """Differences between a restored database and the backup's manifest (empty: equal)."""
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    problems = []
    for name, digest in manifest["files"].items():
        if hashlib.sha256((backup_dir / name).read_bytes()).hexdigest() != digest:
            problems.append(f"{name}: checksum differs")
    restored = table_row_counts(engine)
    for table, count in manifest["row_counts"].items():
        if restored.get(table) != count:
            problems.append(f"{table}: {restored.get(table)} rows, backup had {count}")
    return problems
