"""A short schemathesis run in `make test`: every operation, batch and reload too, positive and negative."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.serving.conftest import ServedModel
from tests.serving.fuzz_schemathesis import fuzz_api

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 8


def test_a_short_fuzz_of_every_operation_fails_no_check(served_model: ServedModel, tmp_path: Path) -> None:
    summary, failures = fuzz_api(served_model, tmp_path, EXAMPLES_PER_OPERATION)
    assert failures == {}
    assert summary["totals"]["operations"] >= 15 and summary["totals"]["examples"] > 100
