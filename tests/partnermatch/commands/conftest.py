"""Fixtures the CLI tests share with the packages the commands drive."""

from __future__ import annotations

from tests.features.conftest import write

__all__ = ["write"]
