"""Importing the SQLite files of earlier versions (the UI's feedback file, the LLM usage log) into the project
database, once each: the import and its record are one transaction, and the old file is left as it was."""
from __future__ import annotations

import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app.storage.schema import legacy_imports


def import_legacy_sqlite(engine: Engine, path: Path | None, kind: str, table: sa.Table, query: str, convert) -> int:
    """Rows of `query` in the old file, converted to `table`'s columns and inserted; 0 when there is no file, it was
    imported before, or it is unreadable (a warning names it; it is left untouched)."""
    if path is None or not str(path) or not Path(path).is_file():
        return 0
    source = str(Path(path).resolve())
    with engine.connect() as db:
        if db.execute(sa.select(legacy_imports.c.source).where(legacy_imports.c.source == source)).first():
            return 0
    try:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=10) as old:
            rows = [convert(row) for row in old.execute(query).fetchall()]
    except sqlite3.Error as exc:
        print(f"warning: {source} not imported ({exc}); it is left as it is", file=sys.stderr)
        return 0
    try:
        with engine.begin() as db:
            # The record first: a second importer at the same moment fails on its key and inserts nothing.
            db.execute(legacy_imports.insert().values(source=source, kind=kind, rows=len(rows), imported=datetime.now(UTC)))
            if rows:
                db.execute(table.insert(), rows)
    except IntegrityError:
        return 0
    return len(rows)
