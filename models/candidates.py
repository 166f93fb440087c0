"""Candidates per role for one request: text and prior retrieval, then the rules of engagement."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from features.prepared import PreparedOpportunity
from features.snapshot import FeatureSnapshot
from models.assembly import AssemblyPlan
from models.config import SearchConfig
from models.rules import (
    RULE_CONFLICT,
    RULE_EXCLUDED,
    RULE_UNKNOWN,
    RULE_WRONG_ROLE,
    DroppedPartner,
    TeamConstraints,
    partner_violation,
)

INACTIVE_RULE = "inactive"
# Retrieval over-fetch rounds when rules drop many of the nearest partners.
MAX_FETCH_ROUNDS = 3


def plan_candidates(
    snapshot: FeatureSnapshot,
    opp: PreparedOpportunity,
    roles: Sequence[str],
    config: SearchConfig,
    constraints: TeamConstraints | None = None,
) -> AssemblyPlan:
    """Candidates per role after the snapshot's filters and the request's rules; locked partners per role."""
    rules = constraints or TeamConstraints()
    query = opp.query
    excluded = frozenset(query.excluded_partner_ids) | rules.exclude
    dropped: dict[str, DroppedPartner] = {
        pid: DroppedPartner(pid, snapshot.role_of(pid), RULE_EXCLUDED, "on the request's exclusion list")
        for pid in sorted(rules.exclude)
    }
    locked: dict[str, str] = {}
    keep_registration = config.keep_registered_partner and not rules.ignore_registration
    to_lock = sorted(rules.include)
    if keep_registration and query.registered_partner_id and query.registered_partner_id not in excluded:
        to_lock = [query.registered_partner_id, *to_lock]
    for pid in to_lock:
        role = snapshot.role_of(pid)
        if role is None:
            dropped[pid] = DroppedPartner(pid, None, RULE_UNKNOWN, "not a known partner")
        elif role not in roles:
            dropped[pid] = DroppedPartner(pid, role, RULE_WRONG_ROLE, f"plays {role}, not requested")
        elif role not in locked:
            locked[role] = pid
    conflicts = {other: pid for pid in locked.values() for other in rules.conflicts_of(pid)}
    retrieval = replace(
        opp,
        query=replace(
            query,
            excluded_partner_ids=excluded,
            registered_partner_id=query.registered_partner_id if keep_registration else None,
        ),
    )

    def eligible(pid: str) -> bool:
        if not rules.filters_partners:
            return True
        if pid in conflicts:
            dropped[pid] = DroppedPartner(
                pid, snapshot.role_of(pid), RULE_CONFLICT, f"conflicts with {conflicts[pid]}"
            )
            return False
        role = snapshot.role_of(pid)
        if rules.allowed is not None and not snapshot.catalog.active[snapshot.catalog.row_of[pid]]:
            dropped[pid] = DroppedPartner(pid, role, INACTIVE_RULE, "partner is inactive")
            return False
        broken = partner_violation(snapshot.catalog, pid, rules, region=query.region, as_of=query.as_of)
        if broken is not None:
            dropped[pid] = DroppedPartner(pid, role, broken[0], broken[1])
            return False
        return True

    n = config.max_candidates_per_role
    candidates: dict[str, list[str]] = {}
    for role in roles:
        if role in locked:
            candidates[role] = [locked[role]]
            continue
        if rules.allowed is not None:
            allowed = sorted(rules.allowed)
            shortlist = [p for p in allowed if snapshot.role_of(p) == role and p not in excluded]
            candidates[role] = [p for p in shortlist if eligible(p)][:n]
            continue
        fetch = n
        kept: list[str] = []
        for _ in range(MAX_FETCH_ROUNDS):
            retrieved = snapshot.candidates(retrieval, role, fetch)
            kept = [p for p in retrieved if eligible(p)]
            if len(kept) >= n or len(retrieved) < fetch:
                break
            fetch *= 3
        candidates[role] = _interleave(_prior_kept(snapshot, retrieval, role, config, eligible), kept, n)

    def eligible_companion(pid: str) -> bool:
        return pid not in excluded and pid not in locked.values() and eligible(pid)

    return AssemblyPlan(
        roles=tuple(roles),
        candidates=candidates,
        locked=locked,
        dropped=tuple(dropped.values()),
        eligible=eligible_companion,
    )


def _prior_kept(
    snapshot: FeatureSnapshot,
    opp: PreparedOpportunity,
    role: str,
    config: SearchConfig,
    eligible: Callable[[str], bool],
) -> list[str]:
    """The best eligible partners of `role` by the snapshot's quality prior, at most the configured share."""
    q = min(config.prior_candidates_per_role, config.max_candidates_per_role)
    if q <= 0:
        return []
    return [p for p in snapshot.prior_candidates(opp, role, 3 * q) if eligible(p)][:q]


def _interleave(first: Sequence[str], second: Sequence[str], n: int) -> list[str]:
    """Alternate two ranked lists (first leads), without duplicates, keeping at most n ids."""
    out: dict[str, None] = {}
    for i in range(max(len(first), len(second))):
        for source in (first, second):
            if i < len(source):
                out.setdefault(source[i], None)
    return list(out)[:n]
