"""Alembic migrations of the store schema; run them with features.store.Store.migrate."""
