"""Alembic migrations of the central store (`camscan server migrate`)."""
