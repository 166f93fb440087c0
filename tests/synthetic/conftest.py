"""A small synthetic ecosystem shared by the generator tests (generated once per module, ~0.2 s)."""

from __future__ import annotations

import pytest

from synthetic import SyntheticEcosystem, generate_ecosystem

SMALL_PARTNERS = 400
SMALL_OPPORTUNITIES = 4000


@pytest.fixture(scope="module")
def eco() -> SyntheticEcosystem:
    return generate_ecosystem(SMALL_PARTNERS, SMALL_OPPORTUNITIES, seed=11)
