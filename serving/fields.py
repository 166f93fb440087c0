"""Field bounds shared by the API's schema modules (the contract's own, from features/schema.py)."""

from __future__ import annotations

import sys
from typing import Annotated

from pydantic import Field

from features import schema as s

# Bounds shared with ingest: features/schema.py holds them once for both doors.
MAX_TEXT = s.MAX_TEXT
MAX_TAG = s.MAX_TAG
MAX_ID = s.MAX_ID
PartnerIdText = Annotated[str, Field(min_length=1, max_length=MAX_ID)]


def _whitespace_class() -> str:
    """Every character `str.strip()` removes, as `\\uXXXX` escapes inside one regex character class."""
    # Spelled out rather than `\s`: Python, Rust (pydantic) and the ECMA reading schemathesis uses
    # (`re.ASCII`) each give `\s` a different set, so a value one accepts another rejected.
    points = [cp for cp in range(sys.maxunicode + 1) if chr(cp).isspace()]
    runs: list[tuple[int, int]] = []
    for cp in points:
        if runs and runs[-1][1] == cp - 1:
            runs[-1] = (runs[-1][0], cp)
        else:
            runs.append((cp, cp))
    return "".join(f"\\u{low:04x}" if low == high else f"\\u{low:04x}-\\u{high:04x}" for low, high in runs)


# A list cell of the contract: not blank and without the `;` that separates cells' items.
NOT_BLANK_TAG_PATTERN = f"^[^;]*[^;{_whitespace_class()}][^;]*$"
TagText = Annotated[str, Field(min_length=1, max_length=MAX_TAG, pattern=NOT_BLANK_TAG_PATTERN)]
