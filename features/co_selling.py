"""Who wins with whom, for one request: companions of the members already chosen and teammates' records.

Reads the snapshot's learned compatibility (features/compatibility.py) and the pair history, always as of
the opportunity's date, so the beam search and the reasons of an answer see only the past.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from features import schema as s
from features.featurizer import PAIR_LIFT_SHRINK
from features.history import JOINT_DEALS, JOINT_WINS, WIN_RATE, PartnerHistory, to_day
from features.prepared import PreparedOpportunity
from features.snapshot import FeatureSnapshot


@dataclass(frozen=True)
class Teammate:
    """One teammate as seen from a member: the record together before a date and learned compatibility."""

    partner_id: str
    name: str
    role: str
    joint_deals: float
    joint_wins: float
    expected_rate: float  # the two partners' own smoothed win rates, averaged
    affinity: float


def companions(
    snapshot: FeatureSnapshot, opp: PreparedOpportunity, role: str, anchors: Sequence[str], per_anchor: int
) -> list[str]:
    """Partners of `role` that win with the given members: per anchor, the best `per_anchor` by learned
    compatibility plus lift on deals closed together before the date, available then, positive only.

    This is how later members of a team are retrieved for the members already chosen, not only for
    the opportunity: the best partner for a team is often one the opportunity's text would not bring.
    """
    if per_anchor <= 0 or role not in snapshot.indexes or not anchors:
        return []
    role_ids, role_rows, role_codes = snapshot.role_members(role)
    # Partners with a history have distinct codes: look teammates up among those only.
    with_history = np.flatnonzero(role_codes >= 0)
    position = pd.Index(role_codes[with_history])
    day = to_day(opp.query.as_of)
    anchor_codes = snapshot.history.codes(list(anchors))
    anchor_codes = anchor_codes[anchor_codes >= 0]
    if not anchor_codes.size:
        return []
    # Per anchor: the role's most compatible partners by learned compatibility (one inner-product
    # search for every anchor), plus every partner it closed deals with (their lift together added).
    fetch = min(4 * per_anchor, len(role_codes))
    best, best_scores = snapshot.history.compatibility.best_partners(anchor_codes, role_codes, day, fetch)
    # Every anchor's past teammates of this role, and their lift together, in one history query.
    met_of = []
    for code in anchor_codes:
        met = snapshot.history.partners_met(int(code))
        where = position.get_indexer(pd.Index(met))
        met_of.append((met[where >= 0], with_history[where[where >= 0]]))
    lifts = _lifts(snapshot.history, anchor_codes, [met for met, _ in met_of], opp.query.as_of)
    picked: dict[str, None] = {}
    for j, code in enumerate(anchor_codes):
        shortlist = best[j][best[j] >= 0]
        learned_of = dict(zip(shortlist.tolist(), best_scores[j][best[j] >= 0].tolist(), strict=True))
        where = met_of[j][1]
        met_learned = snapshot.history.compatibility.affinity(code, role_codes[where], day)
        scores = dict(learned_of)
        for at, value in zip(where.tolist(), (met_learned + lifts[j]).tolist(), strict=True):
            scores[at] = value
        ranked = sorted((p for p, v in scores.items() if v > 0), key=lambda p: -scores[p])[:fetch]
        if not ranked:
            continue
        order = np.asarray(ranked, dtype=np.int64)
        free = snapshot.retriever.available(role_rows[order], opp.query.as_of)
        for i in order[free][:per_anchor]:
            picked.setdefault(str(role_ids[i]), None)
    return list(picked)


def partnerships(
    snapshot: FeatureSnapshot, teams: Sequence[Mapping[str, str | None]], as_of: date
) -> list[dict[str, list[Teammate]]]:
    """Per team, each member's teammates with their record together and learned compatibility.

    One history query for every member pair of every team (the reasons of a whole answer).
    """
    pairs = [
        (t, a, role_b, b)
        for t, team in enumerate(teams)
        for a in team.values()
        if a is not None
        for role_b, b in team.items()
        if b is not None and b != a
    ]
    out: list[dict[str, list[Teammate]]] = [{} for _ in teams]
    if not pairs:
        return out
    members = sorted({p for _, a, _, b in pairs for p in (a, b)})
    codes = dict(zip(members, snapshot.history.codes(members).tolist(), strict=True))
    a_codes = np.array([codes[a] for _, a, _, _ in pairs])
    b_codes = np.array([codes[b] for _, _, _, b in pairs])
    joint = snapshot.history.pair_arrays(a_codes, b_codes, as_of)
    rate_of = dict(
        zip(
            members,
            snapshot.history.stats_arrays(np.array(list(codes.values())), as_of, industry=None, region=None)[
                WIN_RATE
            ].tolist(),
            strict=True,
        )
    )
    affinity = snapshot.history.compatibility.affinity(a_codes, b_codes, to_day(as_of))
    for i, (t, a, role_b, b) in enumerate(pairs):
        out[t].setdefault(a, []).append(
            Teammate(
                partner_id=b,
                name=str(snapshot.partner(b).get(s.NAME) or b),
                role=role_b,
                joint_deals=float(joint[JOINT_DEALS][i]),
                joint_wins=float(joint[JOINT_WINS][i]),
                expected_rate=0.5 * (rate_of[a] + rate_of[b]),
                affinity=float(affinity[i]),
            )
        )
    return out


def _lifts(
    history: PartnerHistory, anchors: np.ndarray, met: Sequence[np.ndarray], as_of: date
) -> list[np.ndarray]:
    """Per anchor, the lift together (wins beyond both records, shrunk) with each partner it met."""
    sizes = [m.size for m in met]
    if not sum(sizes):
        return [np.zeros(0) for _ in met]
    a = np.repeat(anchors, sizes)
    b = np.concatenate(met)
    joint = history.pair_arrays(a, b, as_of)
    codes, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    rates = history.stats_arrays(codes, as_of, industry=None, region=None)[WIN_RATE][inverse]
    expected = 0.5 * (rates[: a.size] + rates[a.size :])
    lift = (joint[JOINT_WINS] - joint[JOINT_DEALS] * expected) / (joint[JOINT_DEALS] + PAIR_LIFT_SHRINK)
    return np.split(lift, np.cumsum(sizes)[:-1])
