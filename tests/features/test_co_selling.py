"""Companions of chosen members and teammates' records (features/co_selling.py) on the tiny ecosystem."""

from __future__ import annotations

from features import schema as s
from features.co_selling import companions, partnerships
from tests.features.snapshot_fixtures import TEAMS, T


def test_partnerships_report_the_deals_won_together_before_the_date(snapshot) -> None:
    mates = {m.partner_id: m for m in partnerships(snapshot, TEAMS[:1], T)[0]["S1"]}
    assert (mates["I1"].joint_deals, mates["I1"].joint_wins) == (1.0, 1.0)
    assert mates["I1"].name == "Compass"


def test_companions_are_the_partners_a_member_won_with(snapshot, opp) -> None:
    assert companions(snapshot, opp, s.INFLUENCE, ["S1"], per_anchor=2) == ["I1"]


def test_companions_never_include_a_partner_that_lost_with_the_member(snapshot, opp) -> None:
    # S1 and I2 lost O2 together: a negative lift, so I2 is not S1's companion.
    assert "I2" not in companions(snapshot, opp, s.INFLUENCE, ["S1"], per_anchor=5)
