"""Helpers for the generator tests: historical teams as role -> partner_id mappings or truth rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features import schema as s
from synthetic import SyntheticEcosystem


def historical_teams(eco: SyntheticEcosystem) -> tuple[list[str], list[dict[str, str | None]]]:
    """Opportunity ids and the role -> partner_id team that worked each, from deal_partners."""
    opp_ids = eco.tables.opportunities[s.OPPORTUNITY_ID].tolist()
    teams: dict[str, dict[str, str | None]] = {o: {} for o in opp_ids}
    dp = eco.tables.deal_partners
    for opp, partner, role in zip(dp[s.OPPORTUNITY_ID], dp[s.PARTNER_ID], dp[s.ROLE], strict=True):
        teams[opp][role] = partner
    return opp_ids, [teams[o] for o in opp_ids]


def active_team_rows(eco: SyntheticEcosystem, teams: list[dict[str, str | None]]) -> np.ndarray:
    """Positions of teams whose members are all active (the oracle only staffs active partners)."""
    partners = eco.tables.partners
    inactive = set(partners.loc[partners[s.STATUS] != "active", s.PARTNER_ID])
    ok = [bool(t) and not (set(t.values()) & inactive) for t in teams]
    return np.flatnonzero(np.array(ok, dtype=bool))


def historical_members(eco: SyntheticEcosystem) -> np.ndarray:
    """(m, roles) truth partner rows of the historical teams, -1 where a role was empty."""
    truth, dp = eco.truth, eco.tables.deal_partners
    members = np.full((truth.opportunity_ids.size, len(truth.roles)), -1, np.int64)
    opp_rows = pd.Index(truth.opportunity_ids).get_indexer(pd.Index(dp[s.OPPORTUNITY_ID]))
    role_cols = pd.Index(list(truth.roles)).get_indexer(pd.Index(dp[s.ROLE]))
    members[opp_rows, role_cols] = pd.Index(truth.partner_ids).get_indexer(pd.Index(dp[s.PARTNER_ID]))
    return members


def contract_columns(table: str, with_requests: bool = False) -> tuple[str, ...]:
    """The contract columns of a generated table: `request_id` (optional, last) only with competing bids."""
    return tuple(c for c in s.COLUMNS[table] if with_requests or c != s.REQUEST_ID)
