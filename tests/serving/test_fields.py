"""The shared field bounds read the same in Python, in pydantic's Rust engine and in the ECMA reading."""

from __future__ import annotations

import re
import sys

import pytest
from pydantic import TypeAdapter, ValidationError

from serving.fields import NOT_BLANK_TAG_PATTERN, TagText

TAG = TypeAdapter(TagText)


def _accepted(value: str) -> bool:
    try:
        TAG.validate_python(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("blank", ["\xa0", "\u2028", "\x85", "\x1f", " \u3000 "])
def test_a_tag_of_only_unicode_whitespace_is_refused(blank: str) -> None:
    assert not _accepted(blank)


def test_a_tag_with_one_visible_character_among_whitespace_is_accepted() -> None:
    assert _accepted("\xa0x\u2028")


def test_the_tag_pattern_read_as_ascii_agrees_with_pydantic_on_every_character() -> None:
    # Schemathesis reads patterns with re.ASCII; a `\s` in the pattern made it draw values pydantic refused.
    ascii_reading = re.compile(NOT_BLANK_TAG_PATTERN, re.ASCII)
    disagreements = [
        hex(cp)
        for cp in range(sys.maxunicode + 1)
        if not 0xD800 <= cp <= 0xDFFF and bool(ascii_reading.search(chr(cp))) != _accepted(chr(cp))
    ]
    assert disagreements == []
