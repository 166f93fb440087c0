"""Helpers for the generator tests: historical teams as role -> partner_id mappings."""

from __future__ import annotations

import numpy as np

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
