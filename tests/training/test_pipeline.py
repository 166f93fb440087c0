"""The shared fitting path: which training rows are competing bids of one request."""

import pandas as pd

from features import schema as s
from training.pipeline import request_groups


def _opportunities(requests: list[str | None]) -> pd.DataFrame:
    return pd.DataFrame({s.OPPORTUNITY_ID: [f"O{i}" for i in range(len(requests))], s.REQUEST_ID: requests})


def test_bids_of_one_request_share_a_code_and_lone_deals_get_none() -> None:
    opps = _opportunities(["R1", "R1", None, "R2", "R3", "R3"])
    codes = request_groups(opps, ["O0", "O1", "O2", "O3", "O4", "O5"])
    assert codes is not None
    assert codes[0] == codes[1] >= 0 and codes[4] == codes[5] >= 0 and codes[0] != codes[4]
    assert codes[2] == -1 and codes[3] == -1  # no request, and a request with a single bid


def test_an_export_without_requests_has_no_groups() -> None:
    opps = pd.DataFrame({s.OPPORTUNITY_ID: ["O1", "O2"]})
    assert request_groups(opps, ["O1", "O2"]) is None
