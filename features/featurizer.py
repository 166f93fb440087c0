"""Team features: each member's point-in-time record and skill fit, then the team matrix, in one batch."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import combinations
from typing import Final

import numpy as np
import pandas as pd

from features.catalog import INDUSTRY, REGION, PartnerCatalog
from features.history import (
    DAYS_SINCE_LAST_WIN,
    DEALS,
    INDUSTRY_DEALS,
    INDUSTRY_WIN_RATE,
    INFLUENCED_DEALS,
    INFLUENCED_REVENUE,
    JOINT_DEALS,
    JOINT_WIN_RATE,
    JOINT_WINS,
    MEAN_LOG_DEAL_SIZE,
    MEDIAN_DAYS_TO_CLOSE,
    OPEN_ENGAGEMENTS,
    RECENCY_WIN_RATE,
    REGION_WIN_RATE,
    SKILL_WIN_RATE,
    SOURCED_DEALS,
    SOURCED_REVENUE,
    WIN_RATE,
    WINS,
    PartnerHistory,
    to_day,
)
from features.prepared import PreparedOpportunity
from features.records import OpportunityQuery
from features.slots import segment_max, segments
from features.team_features import DAYS_CAP, TeamInputs, assemble
from features.vocabulary import SkillVocabulary

# Pseudo-deals of zero lift behind a pair's observed lift: one lucky deal together is not a track record.
PAIR_LIFT_SHRINK: Final = 2.0
# How much each kind of claim says about a partner's real depth in a skill (`skill_evidence`), in [0, 1]:
# a free skill tag little, a strength the partner's own description highlights more, a certification
# most, growing with its level (associate + level step per CERT_LEVEL_WEIGHTS unit above 1).
EVIDENCE_WEIGHTS: Final = {
    "tag": 0.25,
    "description": 0.55,
    "certification": 0.45,
    "certification_level": 0.35,
}


@dataclass(frozen=True)
class MemberBlock:
    """Per-member inputs of the team features for one opportunity, rows aligned with `rows` (ascending)."""

    rows: np.ndarray
    values: dict[str, np.ndarray]
    skill_similarity: np.ndarray  # (members, required skills)
    tag_similarity: np.ndarray  # (members, needs) best skill-tag match
    association: np.ndarray  # (members, association needs) best tag/certification PMI
    evidence: np.ndarray  # (members, association needs) skill evidence in [0, 1]
    # The same per kind of claim (tag, description, certification), unweighted: their weights are learned.
    evidence_kinds: Mapping[str, np.ndarray] = field(default_factory=dict)

    def take(self, positions: np.ndarray) -> MemberBlock:
        return MemberBlock(
            rows=self.rows[positions],
            values={k: v[positions] for k, v in self.values.items()},
            skill_similarity=self.skill_similarity[positions],
            tag_similarity=self.tag_similarity[positions],
            association=self.association[positions],
            evidence=self.evidence[positions],
            evidence_kinds={k: v[positions] for k, v in self.evidence_kinds.items()},
        )

    def with_partners(self, other: MemberBlock) -> MemberBlock:
        """This block and `other`'s rows not already in it, in ascending row order."""
        fresh = ~np.isin(other.rows, self.rows)
        if not fresh.any():
            return self
        added = other.take(np.flatnonzero(fresh))
        order = np.argsort(np.concatenate([self.rows, added.rows]), kind="stable")

        def join(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return np.concatenate([a, b])[order]

        return MemberBlock(
            rows=join(self.rows, added.rows),
            values={k: join(v, added.values[k]) for k, v in self.values.items()},
            skill_similarity=join(self.skill_similarity, added.skill_similarity),
            tag_similarity=join(self.tag_similarity, added.tag_similarity),
            association=join(self.association, added.association),
            evidence=join(self.evidence, added.evidence),
            evidence_kinds={k: join(v, added.evidence_kinds[k]) for k, v in self.evidence_kinds.items()},
        )

    def covering(self, members: np.ndarray) -> MemberBlock | None:
        """This block's rows for `members` (sorted, unique), or None when one of them is not in it."""
        if not len(self.rows):
            return None
        positions = np.minimum(np.searchsorted(self.rows, members), len(self.rows) - 1)
        return self.take(positions) if np.array_equal(self.rows[positions], members) else None


def _row_mean(values: np.ndarray) -> np.ndarray:
    """Mean per row; 0 for rows of an empty (no required skills) matrix."""
    return values.mean(axis=1) if values.shape[1] else np.zeros(values.shape[0])


def _best_of(
    owner: np.ndarray, codes: np.ndarray, n: int, association: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """(members, needs): per need, the best value among each member's phrases (`codes`, -1 unknown)."""
    known = codes >= 0
    if not (association.shape[0] and known.any()):
        return np.zeros((n, association.shape[0]))
    values = association[:, codes[known]].T
    if weights is not None:
        values = values * weights[known, None]
    return np.maximum(segment_max(owner[known], values, n, fill=0.0), 0.0)


def _log_deal_size(deal_size: float | None) -> tuple[float, float]:
    size = deal_size if deal_size is not None and math.isfinite(deal_size) else 0.0
    return size, math.log1p(max(size, 0.0))


@dataclass(frozen=True)
class TeamFeaturizer:
    """The team feature matrix of candidate teams for one prepared opportunity (facts before `as_of`)."""

    roles: tuple[str, ...]
    catalog: PartnerCatalog
    vocabulary: SkillVocabulary
    history: PartnerHistory
    vectors: np.ndarray
    conflict_keys: np.ndarray  # sorted int64 keys row_a * n + row_b (row_a < row_b) of conflicting pairs

    def member_block(
        self, opp: PreparedOpportunity, association: np.ndarray, partner_ids: Sequence[str]
    ) -> MemberBlock:
        """Member features of these partners, computed once per request (the beam search's candidate
        pool); pass it to `team_features` so every stage gathers from it."""
        known = [p for p in partner_ids if p in self.catalog.row_of]
        return self._members(opp, association, np.unique(self.catalog.rows(known)))

    def team_features(
        self,
        opp: PreparedOpportunity,
        association: np.ndarray,
        teams: Sequence[Mapping[str, str | None]],
        members: MemberBlock | None = None,
    ) -> np.ndarray:
        """(teams, features) float32 in `feature_names` order; every fact strictly before `as_of`."""
        query = opp.query
        row_of = self.catalog.row_of
        try:
            flat = [
                row_of[pid] if pid is not None else -1 for team in teams for pid in map(team.get, self.roles)
            ]
        except KeyError as exc:
            raise ValueError(f"team member {exc.args[0]!r} is not a known partner") from exc
        rows = np.asarray(flat, dtype=np.int64).reshape(len(teams), len(self.roles))
        unique, inverse = np.unique(rows, return_inverse=True)
        # np.unique sorts, so an empty slot (-1) takes position 0 and shifts every member by one.
        shift = 1 if len(unique) and unique[0] < 0 else 0
        slots = np.where(rows >= 0, inverse.reshape(rows.shape) - shift, -1)
        unique = unique[shift:]
        block = (members.covering(unique) if members is not None else None) or self._members(
            opp, association, unique
        )
        _, log_deal_size = _log_deal_size(query.deal_size)

        role_pairs = list(combinations(range(len(self.roles)), 2))
        team_codes = np.where(rows >= 0, self.catalog.history_code[np.maximum(rows, 0)], -1)
        pair_deals = np.zeros((len(teams), len(role_pairs)))
        pair_rates = np.full((len(teams), len(role_pairs)), np.nan)
        pair_affinity = np.full((len(teams), len(role_pairs)), np.nan)
        pair_lift = np.full((len(teams), len(role_pairs)), np.nan)
        rates = block.values["win_rate"]
        member_rate = (
            np.where(slots >= 0, rates[np.maximum(slots, 0)], np.nan)
            if len(rates)
            else np.full(slots.shape, np.nan)  # no team has any member
        )
        day = to_day(query.as_of)
        for k, (i, j) in enumerate(role_pairs):
            both = (rows[:, i] >= 0) & (rows[:, j] >= 0)
            joint = self.history.pair_arrays(team_codes[:, i], team_codes[:, j], query.as_of)
            pair_deals[:, k] = joint[JOINT_DEALS]
            pair_rates[:, k] = np.where(both, joint[JOINT_WIN_RATE], np.nan)
            learned = self.history.compatibility.affinity(team_codes[:, i], team_codes[:, j], day)
            pair_affinity[:, k] = np.where(both, learned, np.nan)
            # Wins together beyond what the two members' own records predict, shrunk towards 0.
            expected = 0.5 * (member_rate[:, i] + member_rate[:, j])
            lift = (joint[JOINT_WINS] - joint[JOINT_DEALS] * expected) / (
                joint[JOINT_DEALS] + PAIR_LIFT_SHRINK
            )
            pair_lift[:, k] = np.where(both, lift, np.nan)

        registered_row = row_of.get(query.registered_partner_id) if query.registered_partner_id else None
        registered = (
            (rows == registered_row).any(axis=1) if registered_row is not None else np.zeros(len(teams))
        )
        conflict_pairs = np.zeros(len(teams))
        if len(self.conflict_keys):
            n = len(self.catalog)
            for i, j in role_pairs:
                a, b = rows[:, i], rows[:, j]
                keys = np.minimum(a, b) * n + np.maximum(a, b)
                conflict_pairs += (a >= 0) & (b >= 0) & np.isin(keys, self.conflict_keys)
        return assemble(
            TeamInputs(
                slots=slots,
                member=block.values,
                skill_similarity=block.skill_similarity,
                pair_deals=pair_deals,
                pair_rates=pair_rates,
                pair_affinity=pair_affinity,
                pair_lift=pair_lift,
                registered_on_team=registered,
                log_deal_size=log_deal_size,
                base_rate=self.history.base_rate(query.as_of),
                tag_similarity=block.tag_similarity if len(opp.skill_vectors) else None,
                conflict_pairs=conflict_pairs,
                association=block.association,
                evidence=block.evidence,
                evidence_kinds=block.evidence_kinds,
            )
        )

    def _members(self, opp: PreparedOpportunity, association: np.ndarray, members: np.ndarray) -> MemberBlock:
        """Everything per member that `team_features` needs, for sorted unique partner rows."""
        query = opp.query
        catalog = self.catalog
        stats = self.history.stats_arrays(
            catalog.history_code[members],
            query.as_of,
            industry=query.customer_industry,
            region=query.region,
            skills=query.required_skills,
        )
        vectors = self.vectors[members]
        capacity = catalog.capacity[members]
        open_now = stats[OPEN_ENGAGEMENTS]
        load = np.where(
            np.isnan(capacity), 0.0, np.where(capacity > 0, open_now / np.maximum(capacity, 1), 1.0)
        )
        deal_size, log_deal_size = _log_deal_size(query.deal_size)
        needs = opp.needs
        tag_similarity = self._best_tag_match(members, needs)
        member_size = stats[MEAN_LOG_DEAL_SIZE]
        values = {
            "text_similarity": vectors @ opp.vector,
            "region_match": catalog.covers(REGION, members, query.region),
            "industry_match": catalog.covers(INDUSTRY, members, query.customer_industry),
            "tier_rank": catalog.tier[members],
            "valid_certifications": self._valid_certifications(members, query.as_of),
            "win_rate": stats[WIN_RATE],
            "industry_win_rate": stats[INDUSTRY_WIN_RATE],
            "region_win_rate": stats[REGION_WIN_RATE],
            "deals": stats[DEALS],
            "log_wins": np.log1p(stats[WINS]),
            "industry_deals": stats[INDUSTRY_DEALS],
            "cold_start": (stats[DEALS] == 0).astype(np.float64),
            "capacity_load": load,
            "median_days_to_close": np.nan_to_num(stats[MEDIAN_DAYS_TO_CLOSE], nan=0.0),
            "days_since_last_win": np.minimum(
                np.nan_to_num(stats[DAYS_SINCE_LAST_WIN], nan=DAYS_CAP), DAYS_CAP
            ),
            "sourced_deals": stats[SOURCED_DEALS],
            "psat": catalog.psat[members],
            "skill_match": tag_similarity.mean(axis=1),
            "matching_certifications": self._valid_certifications(members, query.as_of, needs),
            "skill_win_rate": stats[SKILL_WIN_RATE],
            "recency_win_rate": stats[RECENCY_WIN_RATE],
            "influenced_deals": stats[INFLUENCED_DEALS],
            "log_sourced_revenue": np.log1p(stats[SOURCED_REVENUE]),
            "log_influenced_revenue": np.log1p(stats[INFLUENCED_REVENUE]),
            "deal_size_gap": np.where(
                np.isfinite(member_size) & (deal_size > 0), log_deal_size - member_size, 0.0
            ),
        }
        owner, positions = segments(catalog.tag_offsets, members)
        tag_association = _best_of(owner, catalog.tag_codes[positions], len(members), association)
        values["tag_overlap"] = self._tag_overlap(owner, catalog.tag_codes[positions], len(members), query)
        cert_association = self._best_cert_association(members, association, query.as_of)
        values["tag_association"] = _row_mean(tag_association)
        values["certification_association"] = _row_mean(cert_association)
        evidence, evidence_kinds = self._skill_evidence(members, association, query.as_of)
        values["skill_evidence"] = _row_mean(evidence)
        return MemberBlock(
            rows=members,
            values=values,
            skill_similarity=vectors @ opp.skill_vectors.T,
            tag_similarity=tag_similarity,
            association=np.maximum(tag_association, cert_association),
            evidence=evidence,
            evidence_kinds=evidence_kinds,
        )

    def _tag_overlap(
        self, owner: np.ndarray, codes: np.ndarray, n: int, query: OpportunityQuery
    ) -> np.ndarray:
        """Share of the required skills each member lists word for word among its tags (the PRM rule)."""
        wanted = self.vocabulary.index.get_indexer(pd.Index(list(query.required_skills), dtype=object))
        wanted = np.unique(wanted[wanted >= 0])
        if not len(query.required_skills) or not wanted.size:
            return np.zeros(n)
        hits = np.bincount(owner, weights=np.isin(codes, wanted).astype(np.float64), minlength=n)
        return hits / len(query.required_skills)

    def _best_tag_match(self, rows: np.ndarray, needs: np.ndarray) -> np.ndarray:
        """(members, needs): cosine of each member's best skill tag to each need; 0 without tags."""
        owner, positions = segments(self.catalog.tag_offsets, rows)
        codes = self.catalog.tag_codes[positions]
        known = codes >= 0
        if not known.any():
            return np.zeros((len(rows), len(needs)))
        # Similarity per distinct phrase once, then gathered per tag occurrence.
        phrase_similarity = self.vocabulary.vectors @ needs.T
        out = segment_max(owner[known], phrase_similarity[codes[known]], len(rows), fill=0.0)
        out[out < -0.5] = 0.0
        return out

    def _best_cert_association(self, rows: np.ndarray, association: np.ndarray, as_of: date) -> np.ndarray:
        """(members, needs): best association per need among certifications valid on `as_of`."""
        owner, positions, valid = self.catalog.certificates(rows, as_of)
        return _best_of(
            owner[valid],
            self.catalog.cert_codes[positions][valid],
            len(rows),
            association,
            self.catalog.cert_level[positions][valid],
        )

    def _valid_certifications(
        self, rows: np.ndarray, as_of: date, needs: np.ndarray | None = None
    ) -> np.ndarray:
        """Certifications valid on `as_of` per member; with `needs`, only those matching a need."""
        owner, positions, valid = self.catalog.certificates(rows, as_of)
        if len(positions) == 0:
            return np.zeros(len(rows))
        if needs is not None:
            codes = self.catalog.cert_codes[positions]
            # Whether each distinct phrase matches a need, once, then gathered per certification.
            phrase_matches = self.vocabulary.matches_a_need(needs)
            valid &= (codes >= 0) & phrase_matches[np.maximum(codes, 0)]
        return np.bincount(owner, weights=valid.astype(np.float64), minlength=len(rows))

    def _skill_evidence(
        self, rows: np.ndarray, association: np.ndarray, as_of: date
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(members, needs) in [0, 1]: per need, the strongest evidence that the member has the skill.

        A phrase matches a need through its skill group (`SkillVocabulary.skill_match_of`); the match is
        weighted by the kind of claim (EVIDENCE_WEIGHTS): a skill tag costs nothing to add, a phrase the
        partner's own description highlights is a public statement, a certification (held on the date or
        earlier) was examined. Kept per need, before any averaging: coverage is the best member per need,
        so evidence must be too.
        """
        catalog = self.catalog
        match = self.vocabulary.skill_match_of(association)
        owner, positions = segments(catalog.tag_offsets, rows)
        tags = _best_of(owner, catalog.tag_codes[positions], len(rows), match)
        owner, positions = segments(catalog.described_offsets, rows)
        described = _best_of(owner, catalog.described_codes[positions], len(rows), match)
        owner, positions = segments(catalog.cert_offsets, rows)
        # Issued before the date, expired or not: a lapsed certificate still shows the skill was examined.
        held = catalog.cert_issued[positions] <= to_day(as_of)
        level = catalog.cert_level[positions][held]
        # Level weight 1 (associate) .. 2 (expert) onto the certification's evidence range.
        strength = EVIDENCE_WEIGHTS["certification"] + EVIDENCE_WEIGHTS["certification_level"] * (level - 1.0)
        codes = catalog.cert_codes[positions][held]
        certified = _best_of(owner[held], codes, len(rows), match, strength)
        combined = np.maximum.reduce(
            [EVIDENCE_WEIGHTS["tag"] * tags, EVIDENCE_WEIGHTS["description"] * described, certified]
        )
        return combined, {"tag": tags, "description": described, "certification": certified}
