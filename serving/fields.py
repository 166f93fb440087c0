"""Field bounds shared by the API's schema modules (the contract's own, from features/schema.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from features import schema as s

# Bounds shared with ingest: features/schema.py holds them once for both doors.
MAX_TEXT = s.MAX_TEXT
MAX_TAG = s.MAX_TAG
MAX_ID = s.MAX_ID
PartnerIdText = Annotated[str, Field(min_length=1, max_length=MAX_ID)]
