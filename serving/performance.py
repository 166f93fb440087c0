"""The online report per model version, from the audit trail, feedback, outcomes and shadow rankings."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import Engine, case, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql import ColumnElement

from features import tables as t
from serving.metrics import UNKNOWN_VERSION, ApiMetrics
from serving.report_schemas import (
    MAX_REPORTED_VERSIONS,
    OutcomeReport,
    PerformanceReport,
    RankAcceptance,
    Rate,
    ReasonCount,
    ShadowChoices,
    ShadowPerformance,
    VersionPerformance,
)
from serving.shadow import TeamKey, team_key

logger = logging.getLogger(__name__)

ACCEPTED, REJECTED, WON = "accepted", "rejected", "won"
# Request ids looked up per query: well under SQLite's and PostgreSQL's bound-parameter limits.
CHUNK = 500


def rate(hits: int, count: int) -> Rate:
    return Rate(hits=hits, count=count, rate=hits / count if count else None)


def _ranked_keys(teams: Sequence[Mapping[str, Any]]) -> list[TeamKey]:
    return [team_key(team["members"]) for team in sorted(teams, key=lambda team: int(team["rank"]))]


# Where the judged team stood in its answer: at a rank, not in it, or unknown (no answer on record).
Bucket = Literal["ranked", "not_in_answer", "unknown"]


@dataclass(frozen=True)
class Answer:
    """One audit row: a request's answer, by one version."""

    request_id: str
    opportunity_id: str | None
    version: str
    teams: list[dict[str, Any]]


@dataclass(frozen=True)
class Judged:
    """A feedback row credited to the answer it judged (version None: no answer on record)."""

    version: str | None
    bucket: Bucket
    rank: int | None
    action: str
    reason_code: str
    opportunity_id: str | None


def rank_in(
    teams: Sequence[Mapping[str, Any]], team: Mapping[str, str] | None, partner_id: str | None
) -> int | None:
    """The rank of the judged team in an answer (or of the best team holding the judged partner)."""
    ranks = [
        int(t_["rank"])
        for t_ in teams
        if (team is not None and team_key(t_["members"]) == team_key(team))
        or (team is None and partner_id is not None and partner_id in t_["members"].values())
    ]
    return min(ranks) if ranks else None


def judge(row: Mapping[str, Any], answers: Sequence[Answer]) -> Judged:
    """Credit one feedback row to the answer of its request; a batch's items are told apart by opportunity."""
    candidates = list(answers)
    if row["opportunity_id"] is not None:
        candidates = [a for a in candidates if a.opportunity_id == row["opportunity_id"]] or candidates
    base = {"action": row["action"], "reason_code": row["reason_code"]}
    if not candidates:
        return Judged(None, "unknown", None, opportunity_id=row["opportunity_id"], **base)
    ranks = [rank_in(a.teams, row["team"], row["partner_id"]) for a in candidates]
    found = [(a, r) for a, r in zip(candidates, ranks, strict=True) if r is not None]
    if len(candidates) == 1:
        answer = candidates[0]
        bucket: Bucket = "ranked" if ranks[0] is not None else "not_in_answer"
        return Judged(answer.version, bucket, ranks[0], opportunity_id=answer.opportunity_id, **base)
    if len(found) == 1:
        answer, rank = found[0]
        return Judged(answer.version, "ranked", rank, opportunity_id=answer.opportunity_id, **base)
    # Several items of one batch and nothing to tell them apart: the version is known, the rank is not.
    return Judged(candidates[0].version, "unknown", None, opportunity_id=row["opportunity_id"], **base)


def _since(column: ColumnElement[Any], since: date | None) -> ColumnElement[bool]:
    return column >= datetime.combine(since, datetime.min.time()) if since else column.is_not(None)


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _served(conn: Connection, since: date | None) -> dict[str, tuple[int, int]]:
    audit = t.audit_log
    query = (
        select(
            audit.c.model_version,
            func.count(),
            func.coalesce(func.sum(func.json_array_length(audit.c.teams)), 0),
        )
        .where(_since(audit.c.created_at, since))
        .group_by(audit.c.model_version)
    )
    return {str(v): (int(n), int(teams)) for v, n, teams in conn.execute(query)}


def _answers_of(conn: Connection, request_ids: Sequence[str]) -> dict[str, list[Answer]]:
    audit = t.audit_log
    out: dict[str, list[Answer]] = defaultdict(list)
    for chunk in _chunks(request_ids):
        query = select(
            audit.c.request_id, audit.c.opportunity_id, audit.c.model_version, audit.c.teams
        ).where(audit.c.request_id.in_(chunk))
        for request_id, opportunity_id, version, teams in conn.execute(query.order_by(audit.c.id)):
            out[str(request_id)].append(Answer(str(request_id), opportunity_id, str(version), list(teams)))
    return out


def _judged(conn: Connection, since: date | None) -> list[Judged]:
    fb = t.feedback
    rows = [
        dict(r)
        for r in conn.execute(
            select(
                fb.c.request_id,
                fb.c.opportunity_id,
                fb.c.partner_id,
                fb.c.team,
                fb.c.action,
                fb.c.reason_code,
            )
            .where(_since(fb.c.created_at, since))
            .order_by(fb.c.id)
        ).mappings()
    ]
    answers = _answers_of(conn, sorted({str(r["request_id"]) for r in rows if r["request_id"]}))
    return [judge(r, answers.get(str(r["request_id"]), []) if r["request_id"] else []) for r in rows]


def _actual_teams(conn: Connection) -> dict[str, tuple[TeamKey, bool]]:
    """The latest outcome of every opportunity: the team that worked it and whether it was won."""
    out = t.outcomes
    latest: dict[str, tuple[TeamKey, bool]] = {}
    for opportunity_id, outcome, team in conn.execute(
        select(out.c.opportunity_id, out.c.outcome, out.c.team).order_by(out.c.id)
    ):
        members = frozenset((str(m["role"]), str(m["partner_id"])) for m in team or [])
        latest[str(opportunity_id)] = (members, outcome == WON)
    return latest


def _latest_answers(conn: Connection, since: date | None, closed: set[str]) -> dict[tuple[str, str], Answer]:
    """The latest answer of each version for each opportunity that has an outcome."""
    audit = t.audit_log
    query = (
        select(audit.c.request_id, audit.c.opportunity_id, audit.c.model_version, audit.c.teams)
        .where(
            _since(audit.c.created_at, since), audit.c.opportunity_id.in_(select(t.outcomes.c.opportunity_id))
        )
        .order_by(audit.c.id)
    )
    latest: dict[tuple[str, str], Answer] = {}
    for request_id, opportunity_id, version, teams in conn.execute(query):
        if str(opportunity_id) in closed:
            latest[(str(version), str(opportunity_id))] = Answer(
                str(request_id), str(opportunity_id), str(version), list(teams)
            )
    return latest


@dataclass
class _Tally:
    """Counts of how suggestions met outcomes: hits and totals per measure."""

    counts: Counter[str]

    def add(self, name: str, hit: bool) -> None:
        self.counts[f"{name}.n"] += 1
        self.counts[f"{name}.hits"] += int(hit)

    def rate(self, name: str) -> Rate:
        return rate(self.counts[f"{name}.hits"], self.counts[f"{name}.n"])

    def add_choice(self, teams: Sequence[Mapping[str, Any]], team: TeamKey, win: bool) -> bool:
        """Count where the actual team stood in a ranking and how its deal ended; True: in the top k."""
        keys = _ranked_keys(teams)
        top1, in_top_k = bool(keys) and keys[0] == team, team in keys
        self.add("top1", top1)
        self.add("top_k", in_top_k)
        if top1:
            self.add("win_top1", win)
        if in_top_k:
            self.add("win_top_k", win)
        return in_top_k


def _outcome_report(
    answers: Iterable[Answer], actual: Mapping[str, tuple[TeamKey, bool]], accepted: set[str]
) -> OutcomeReport:
    tally = _Tally(Counter())
    n = won = 0
    for answer in answers:
        team, win = actual[str(answer.opportunity_id)]
        n, won = n + 1, won + int(win)
        if not tally.add_choice(answer.teams, team, win):
            tally.add("win_not", win)
        tally.add("win_accepted" if answer.opportunity_id in accepted else "win_not_accepted", win)
    return OutcomeReport(
        opportunities=n,
        won=won,
        actual_team_was_top1=tally.rate("top1"),
        actual_team_in_top_k=tally.rate("top_k"),
        win_rate_when_top1=tally.rate("win_top1"),
        win_rate_when_in_top_k=tally.rate("win_top_k"),
        win_rate_when_not_suggested=tally.rate("win_not"),
        win_rate_accepted=tally.rate("win_accepted"),
        win_rate_not_accepted=tally.rate("win_not_accepted"),
    )


def _by_rank(judged: Sequence[Judged]) -> list[RankAcceptance]:
    groups: dict[tuple[int, str, int | None], Counter[str]] = defaultdict(Counter)
    order = {"ranked": 0, "not_in_answer": 1, "unknown": 2}
    for j in judged:
        groups[(order[j.bucket], j.bucket, j.rank)][j.action] += 1
    return [
        RankAcceptance(
            bucket=bucket,
            rank=rank,
            accepted=c[ACCEPTED],
            rejected=c[REJECTED],
            acceptance=rate(c[ACCEPTED], c[ACCEPTED] + c[REJECTED]),
        )
        for (_, bucket, rank), c in sorted(groups.items(), key=lambda item: (item[0][0], item[0][2] or 0))
    ]


def _version_order(version: str | None) -> tuple[int, int, str]:
    if version is None:
        return (1, 0, "")
    return (0, int(version), "") if version.isdigit() else (0, 0, version)


def _versions(conn: Connection, since: date | None, version: str | None) -> list[VersionPerformance]:
    served = _served(conn, since)
    judged = _judged(conn, since)
    actual = _actual_teams(conn)
    accepted = {j.opportunity_id for j in judged if j.action == ACCEPTED and j.opportunity_id is not None}
    answers: dict[str, list[Answer]] = defaultdict(list)
    for (v, _), answer in _latest_answers(conn, since, set(actual)).items():
        answers[v].append(answer)
    feedback: dict[str | None, list[Judged]] = defaultdict(list)
    for j in judged:
        feedback[j.version].append(j)
    names = set(served) | set(feedback) | set(answers)
    if version is not None:
        names &= {version}
    report = []
    for name in sorted(names, key=_version_order)[-MAX_REPORTED_VERSIONS - 1 :]:
        mine = feedback.get(name, [])
        requests, teams = served.get(name, (0, 0)) if name is not None else (0, 0)
        report.append(
            VersionPerformance(
                model_version=name,
                requests=requests,
                teams_suggested=teams,
                feedback_accepted=sum(j.action == ACCEPTED for j in mine),
                feedback_rejected=sum(j.action == REJECTED for j in mine),
                acceptance_by_rank=_by_rank(mine),
                rejections_by_reason=[
                    ReasonCount(reason_code=reason, count=count)
                    for reason, count in Counter(
                        j.reason_code for j in mine if j.action == REJECTED
                    ).most_common()
                ],
                outcomes=_outcome_report(answers.get(name, []) if name is not None else [], actual, accepted),
            )
        )
    return report


def _choices(rows: Iterable[tuple[list[dict[str, Any]], TeamKey, bool]]) -> ShadowChoices:
    tally = _Tally(Counter())
    for teams, team, win in rows:
        tally.add_choice(teams, team, win)
    return ShadowChoices(
        actual_team_was_top1=tally.rate("top1"),
        actual_team_in_top_k=tally.rate("top_k"),
        win_rate_when_top1=tally.rate("win_top1"),
        win_rate_when_in_top_k=tally.rate("win_top_k"),
    )


def _shadow(conn: Connection, since: date | None, version: str | None) -> list[ShadowPerformance]:
    sh = t.shadow_rankings
    pair = (sh.c.champion_version, sh.c.challenger_version)
    where = [_since(sh.c.created_at, since)]
    if version is not None:
        where.append((sh.c.champion_version == version) | (sh.c.challenger_version == version))
    summary = conn.execute(
        select(
            *pair,
            func.count(),
            func.sum(case((sh.c.top1_agrees, 1), else_=0)),
            func.avg(sh.c.overlap_at_k),
            func.avg(sh.c.challenger_ms),
        )
        .where(*where)
        .group_by(*pair)
    ).all()
    actual = _actual_teams(conn)
    # The latest shadow ranking of each pair for each opportunity that has an outcome.
    latest: dict[tuple[str, str], dict[str, tuple[list[Any], list[Any]]]] = defaultdict(dict)
    for champion, challenger, opportunity_id, champion_teams, challenger_teams in conn.execute(
        select(*pair, sh.c.opportunity_id, sh.c.champion_teams, sh.c.challenger_teams)
        .where(*where, sh.c.opportunity_id.in_(select(t.outcomes.c.opportunity_id)))
        .order_by(sh.c.id)
    ):
        latest[(str(champion), str(challenger))][str(opportunity_id)] = (champion_teams, challenger_teams)
    out = []
    for champion, challenger, n, agreements, overlap, ms in summary:
        closed = latest.get((str(champion), str(challenger)), {})
        closed = {opp: teams for opp, teams in closed.items() if opp in actual}
        out.append(
            ShadowPerformance(
                champion_version=str(champion),
                challenger_version=str(challenger),
                requests=int(n),
                top1_agreement=rate(int(agreements or 0), int(n)),
                mean_overlap_at_k=None if overlap is None else min(1.0, max(0.0, float(overlap))),
                mean_challenger_ms=None if ms is None else max(0.0, float(ms)),
                opportunities_with_outcome=len(closed),
                champion=_choices((teams[0], *actual[opp]) for opp, teams in closed.items()),
                challenger=_choices((teams[1], *actual[opp]) for opp, teams in closed.items()),
            )
        )
    out.sort(key=lambda s: (_version_order(s.champion_version), _version_order(s.challenger_version)))
    return out[-MAX_REPORTED_VERSIONS:]


def performance_report(
    engine: Engine, since: date | None = None, version: str | None = None
) -> PerformanceReport:
    """Per model version: answers, feedback by rank and reason, outcomes; and per shadowed pair, how the
    challenger's choices compare with the champion's. One read transaction, so the parts agree."""
    with engine.connect() as conn, conn.begin():
        return PerformanceReport(
            since=since,
            model_version=version,
            versions=_versions(conn, since, version),
            shadow=_shadow(conn, since, version),
        )


def answering_version(engine: Engine, request_id: str | None, opportunity_id: str | None) -> str | None:
    """The model version that answered a request (None: no request_id, or none on record)."""
    if not request_id:
        return None
    audit = t.audit_log
    query = select(audit.c.model_version).where(audit.c.request_id == request_id)
    if opportunity_id is not None:
        # Uses the opportunity index and tells a batch's items apart.
        query = query.where(audit.c.opportunity_id == opportunity_id)
    with engine.connect() as conn:
        found = conn.execute(query.limit(1)).scalar()
    return None if found is None else str(found)


def count_feedback(
    metrics: ApiMetrics,
    engine: Engine,
    request_id: str | None,
    opportunity_id: str | None,
    action: str,
    reason_code: str,
) -> None:
    """Count a recorded feedback in /metrics under the version that answered its request."""
    try:
        version = answering_version(engine, request_id, opportunity_id)
    except SQLAlchemyError:
        logger.warning("feedback counted without its model version: the audit trail could not be read")
        version = None
    metrics.feedback.labels(version or UNKNOWN_VERSION, action, reason_code).inc()
