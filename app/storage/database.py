"""Opening the project's database: a SQLAlchemy engine for `WAF_DATABASE_URL` (SQLite file by default), brought to
the newest schema revision by the Alembic migrations in app/storage/migrations. A database of an older revision is
migrated in place, never dropped; one newer than this code is refused with a message."""
from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

MIGRATIONS = Path(__file__).parent / "migrations"
_UPGRADE_LOCK = threading.Lock()
_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


class DatabaseError(ValueError):
    """The database cannot be opened or migrated; the message names the problem."""


def open_database(url: str) -> Engine:
    """An engine on the database at `url` (one per URL and process, with its connection pool), its schema at the
    newest revision."""
    try:
        with _ENGINES_LOCK:
            engine = _ENGINES.get(url) or _ENGINES.setdefault(url, create_engine(url))
        upgrade_schema(engine)
    except DatabaseError:
        raise
    except (SQLAlchemyError, OSError) as exc:
        raise DatabaseError(f"cannot open the database at {safe_url(url)}: {first_line(exc)}") from exc
    return engine


def create_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Writers wait up to 30 s for the lock instead of failing at once.
        return sa.create_engine(url, connect_args={"timeout": 30})
    return sa.create_engine(url, pool_pre_ping=True)


def alembic_config():
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade_schema(engine: Engine, revision: str = "head") -> None:
    """Bring the database to `revision` (the newest by default), creating the schema when it is empty."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    config = alembic_config()
    head = ScriptDirectory.from_config(config).get_current_head()
    if revision == "head":
        with engine.connect() as connection:
            if MigrationContext.configure(connection).get_current_revision() == head:
                return
    try:
        with _UPGRADE_LOCK, engine.begin() as connection:  # Alembic's command API keeps module state: one at a time
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except CommandError as exc:  # e.g. a revision this version does not know: the database is newer than the code
        raise DatabaseError(
            f"the database has a schema this version of waf-assistant does not know ({exc}); "
            f"this version's newest is {head}: upgrade waf-assistant"
        ) from exc


def schema_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def iso_utc(value: datetime) -> str:
    """A stored timestamp as ISO 8601 in UTC (SQLite hands back naive datetimes; they were stored in UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat(timespec="seconds")


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
