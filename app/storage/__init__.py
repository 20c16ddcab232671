"""The project's database: one schema (Alembic migrations) on SQLite by default or PostgreSQL for a team."""
