"""Rep feedback used where it is honest: what a rejection says about one opportunity and about capacity.

A rejected suggestion never worked the deal, so its win or loss is unknown: feedback is never an outcome
(treating rejections as losses would teach the model to imitate reps). It is used only as what it says:
- a partner rejected for an opportunity (any reason but good_fit) is not suggested again for it;
- a team rejected for an opportunity (no partner_id given) is not returned again for it; its members are;
- a partner rejected as no_capacity, for any opportunity, is withheld from every request for
  `feedback_capacity_hold_days` from the report.
The caller's `include` and the opportunity's registered partner always win over these rules, and
explicit candidate teams are ranked as given.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from starlette.datastructures import State

from core.settings import ServingSettings
from models.rules import RULE_EXCLUDED
from serving.errors import DATABASE_DOWN
from serving.model_holder import Serving
from serving.persistence import ApiStore, Rejection, rejections
from serving.ranking import RankResult, ScoredTeam
from serving.schemas import FeedbackReason, RecommendationRequest

logger = logging.getLogger(__name__)

RULE_REJECTED_BY_REP = "rejected_by_rep"
RULE_NO_CAPACITY = "no_capacity_reported"

TeamKey = frozenset[tuple[str, str]]


def team_key(team: Mapping[str, str | None]) -> TeamKey:
    """A team as its filled seats, so the same members in the same roles compare equal."""
    return frozenset((role, pid) for role, pid in team.items() if pid is not None)


@dataclass(frozen=True)
class Withheld:
    """What rep feedback keeps off one request's answer: partners (rule and detail each) and exact teams."""

    partners: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    teams: frozenset[TeamKey] = frozenset()

    @property
    def partner_ids(self) -> frozenset[str]:
        return frozenset(self.partners)

    def applied_to(self, result: RankResult, k: int) -> RankResult:
        """The ranking with feedback drops under their own rule, rejected teams removed, at most k teams."""
        if not self.partners and not self.teams:
            return result
        # The withheld partners were passed as exclusions: their drop entries say "excluded" until here.
        dropped = [
            replace(d, rule=self.partners[d.partner_id][0], detail=self.partners[d.partner_id][1])
            if d.rule == RULE_EXCLUDED and d.partner_id in self.partners
            else d
            for d in result.dropped
        ]
        kept = [t for t in result.teams if team_key(t.team.members) not in self.teams][:k]
        teams = [ScoredTeam(replace(t.team, rank=i + 1), t.features) for i, t in enumerate(kept)]
        applied = [*result.filters_applied]
        if self.partners:
            applied.append(f"rep feedback: {len(self.partners)} partner(s) withheld")
        if self.teams:
            applied.append(f"rep feedback: {len(self.teams)} rejected team(s) not repeated")
        return RankResult(teams, applied, dropped)


NO_FEEDBACK = Withheld()


def _withheld(
    serving: Serving,
    req: RecommendationRequest,
    rejected: Iterable[Rejection],
    holds: Mapping[str, tuple[str, str]],
) -> Withheld:
    """Rule 1 (this opportunity's rejections) before rule 2 (capacity holds), minus the partners the
    request names itself or does not ask for."""
    if req.candidates is not None and req.candidates.teams:
        return NO_FEEDBACK
    partners: dict[str, tuple[str, str]] = {}
    teams: set[TeamKey] = set()
    for r in rejected:  # oldest first: the latest rejection of a partner names the reason
        if r.reason_code == FeedbackReason.GOOD_FIT:
            continue
        if r.partner_id is not None:
            when = r.created_at.date().isoformat()
            partners[r.partner_id] = (
                RULE_REJECTED_BY_REP,
                f"rejected for this opportunity on {when}: {r.reason_code}",
            )
        elif r.team:
            teams.add(team_key(r.team))
    for pid, why in holds.items():
        partners.setdefault(pid, why)
    c = req.constraints
    spared = {*c.include, *c.exclude, req.opportunity.registered_partner_id}
    roles = set(req.roles or serving.ranker.snapshot.roles)
    return Withheld(
        {
            pid: why
            for pid, why in partners.items()
            if pid not in spared and serving.ranker.snapshot.role_of(pid) in roles
        },
        frozenset(teams),
    )


class FeedbackRules:
    """Reads the feedback answers must respect: an opportunity's rejections (one indexed query per call,
    never cached, so a rejection counts from the next request) and capacity holds (cached per worker)."""

    def __init__(self, store: ApiStore, config: ServingSettings) -> None:
        self.store = store
        self.per_opportunity = config.feedback_opportunity_rejections
        self.hold = timedelta(days=config.feedback_capacity_hold_days)
        self.cache_seconds = config.feedback_cache_seconds
        self._reports: dict[str, datetime] = {}  # partner -> latest no_capacity report in the hold window
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def withheld(self, serving: Serving, reqs: Sequence[RecommendationRequest]) -> list[Withheld]:
        """What feedback withholds from each request; on a database error, nothing (logged): an answer
        without the reps' feedback is what the API gave before it had any."""
        ids = sorted({r.opportunity.opportunity_id for r in reqs if r.opportunity.opportunity_id})
        try:
            found = rejections(self.store, opportunity_ids=ids) if self.per_opportunity and ids else []
            holds = self.capacity_holds()
        except DATABASE_DOWN as exc:
            logger.warning("rep feedback not applied: database unavailable (%s)", exc)
            return [NO_FEEDBACK] * len(reqs)
        if not found and not holds:
            return [NO_FEEDBACK] * len(reqs)
        by_opportunity: dict[str, list[Rejection]] = {}
        for r in found:
            by_opportunity.setdefault(r.opportunity_id or "", []).append(r)
        return [
            _withheld(serving, req, by_opportunity.get(req.opportunity.opportunity_id or "", ()), holds)
            for req in reqs
        ]

    def capacity_holds(self, now: datetime | None = None) -> dict[str, tuple[str, str]]:
        """Partners reported without capacity within the hold, with rule and detail."""
        if not self.hold:
            return {}
        now = now or datetime.now()
        reports = self._capacity_reports(now)
        return {
            pid: (
                RULE_NO_CAPACITY,
                f"a rep reported no capacity on {at.date().isoformat()}; "
                f"withheld until {(at + self.hold).date().isoformat()}",
            )
            for pid, at in reports.items()
            if at + self.hold > now  # a cached report may have expired since it was read
        }

    def _capacity_reports(self, now: datetime) -> Mapping[str, datetime]:
        with self._lock:
            fresh = self._read_at is not None and time.monotonic() - self._read_at < self.cache_seconds
            if not fresh:
                reports: dict[str, datetime] = {}
                found = rejections(
                    self.store, reason_code=FeedbackReason.NO_CAPACITY.value, since=now - self.hold
                )
                for r in found:
                    if r.partner_id is not None:
                        reports[r.partner_id] = max(r.created_at, reports.get(r.partner_id, r.created_at))
                self._reports, self._read_at = reports, time.monotonic()
            return self._reports


_CREATING = threading.Lock()


def feedback_rules(state: State) -> FeedbackRules:
    """The app's feedback reader, made on first use over the app's current API store."""
    rules: FeedbackRules | None = getattr(state, "feedback_rules", None)
    if rules is not None and rules.store is state.api_store:
        return rules
    with _CREATING:
        rules = getattr(state, "feedback_rules", None)
        if rules is None or rules.store is not state.api_store:
            rules = FeedbackRules(state.api_store, state.serving_settings)
            state.feedback_rules = rules
    return rules
