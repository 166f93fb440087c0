"""Answering recommendation requests: request to rank spec, one model version per call, audit trail."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from functools import partial

from fastapi import BackgroundTasks, Request

from models.rules import TeamConstraints
from serving.errors import ApiError
from serving.feedback_rules import NO_FEEDBACK, FeedbackRules, Withheld, feedback_rules
from serving.model_holder import Serving
from serving.persistence import ApiStore
from serving.presenters import audit_teams, recommendation_response
from serving.ranking import ConflictingRequest, RankingError, RankSpec
from serving.schemas import RecommendationRequest, RecommendationResponse
from serving.shadow import ChallengerRanking, ShadowScorer, teams_of


def request_id_of(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def filters_applied(req: RecommendationRequest) -> tuple[str, ...]:
    """The request's rules in words, echoed in the response."""
    c = req.constraints
    out = []
    if c.exclude:
        out.append(f"exclude: {len(c.exclude)} partner(s)")
    if c.include:
        out.append(f"include: {', '.join(c.include)}")
    if c.conflicting_pairs:
        out.append(f"conflicting_pairs: {len(c.conflicting_pairs)}")
    if c.min_tier:
        out.append(f"min_tier: {c.min_tier}")
    if c.region_must_match:
        out.append("region_must_match")
    if c.required_certifications:
        out.append(f"required_certifications: {', '.join(c.required_certifications)}")
    if c.ignore_registration:
        out.append("ignore_registration")
    if req.candidates is not None:
        out.append("candidates: partner_ids" if req.candidates.partner_ids else "candidates: teams")
    return tuple(out)


def rank_spec(serving: Serving, req: RecommendationRequest, withheld: Withheld = NO_FEEDBACK) -> RankSpec:
    c = req.constraints
    candidates = req.candidates
    serving.ranker.check_known(c.include)
    try:
        constraints = TeamConstraints(
            exclude=frozenset(c.exclude) | withheld.partner_ids,
            include=frozenset(c.include),
            conflicting_pairs=TeamConstraints.pairs(c.conflicting_pairs),
            min_tier=c.min_tier,
            required_certifications=tuple(c.required_certifications),
            region_must_match=c.region_must_match,
            ignore_registration=c.ignore_registration,
            allowed=frozenset(candidates.partner_ids) if candidates and candidates.partner_ids else None,
        )
    except ValueError as exc:
        # e.g. a partner both included and excluded: the request contradicts itself.
        raise ConflictingRequest(str(exc)) from exc
    return RankSpec(
        roles=serving.ranker.check_roles(req.roles),
        k=req.k + len(withheld.teams),  # room for the rejected teams removed after ranking
        constraints=constraints,
        candidate_teams=tuple(candidates.teams) if candidates and candidates.teams else None,
        diversity=req.diversity,
        explain=req.explain,
        filters_applied=filters_applied(req),
        rank_by=serving.ranker.check_rank_by(req.rank_by),
    )


def rank_many(
    request: Request, serving: Serving, reqs: Sequence[RecommendationRequest]
) -> list[RecommendationResponse | ApiError]:
    """Rank several requests with one model version and one embedding call; each may fail on its own."""
    request_id = request_id_of(request)
    out: list[RecommendationResponse | ApiError] = []
    specs: dict[int, RankSpec] = {}
    withheld = feedback_rules(request.app.state).withheld(serving, reqs)
    for i, req in enumerate(reqs):
        try:
            specs[i] = rank_spec(serving, req, withheld[i])
            out.append(ApiError(500, "not ranked"))
        except RankingError as exc:
            out.append(ApiError(exc.status, str(exc), exc.code))
    order = list(specs)
    slots: threading.BoundedSemaphore = request.app.state.rank_slots
    # `serving` is one immutable model and snapshot: a partner update swaps in a new one, never waits.
    with slots:
        prepared = serving.ranker.prepare([reqs[i].opportunity.to_query() for i in order])
        for i, opp in zip(order, prepared, strict=True):
            try:
                result = withheld[i].applied_to(serving.ranker.rank(opp, specs[i]), reqs[i].k)
            except RankingError as exc:
                out[i] = ApiError(exc.status, str(exc), exc.code)
                continue
            out[i] = recommendation_response(request_id, serving.version, result, reqs[i].explain)
    return out


def audit(
    api_store: ApiStore,
    key_id: str | None,
    route: str,
    reqs: Sequence[RecommendationRequest],
    responses: Sequence[RecommendationResponse | ApiError],
    request_id: str,
    version: str,
) -> None:
    api_store.write_audit(
        [
            {
                "request_id": request_id,
                "key_id": key_id,
                "route": route,
                "model_version": version,
                "request": req.model_dump(mode="json"),
                "opportunity_id": req.opportunity.opportunity_id,
                "teams": audit_teams(resp.teams) if isinstance(resp, RecommendationResponse) else [],
            }
            for req, resp in zip(reqs, responses, strict=True)
        ]
    )


def answer(
    request: Request,
    serving: Serving,
    api_store: ApiStore,
    caller_key: str | None,
    background: BackgroundTasks,
    reqs: Sequence[RecommendationRequest],
) -> RecommendationResponse:
    [response] = rank_many(request, serving, reqs)
    if isinstance(response, ApiError):
        raise response
    # Written after the response is sent: the audit trail never adds to the request's latency.
    background.add_task(
        audit,
        api_store,
        caller_key,
        request.url.path,
        reqs,
        [response],
        response.request_id,
        serving.version,
    )
    shadow(request, background, serving, reqs, [response], response.request_id)
    return response


def challenger_rankings(
    rules: FeedbackRules | None, challenger: Serving, reqs: Sequence[RecommendationRequest]
) -> list[ChallengerRanking | None]:
    """Each request ranked by the challenger with the same spec as the champion's, reps' feedback included
    (one embedding call, its time shared out); None where the challenger cannot answer (e.g. a partner it
    does not know)."""
    started = time.perf_counter()
    withheld = rules.withheld(challenger, reqs) if rules is not None else [NO_FEEDBACK] * len(reqs)
    specs: dict[int, RankSpec] = {}
    for i, req in enumerate(reqs):
        try:
            specs[i] = rank_spec(challenger, req, withheld[i])
        except RankingError:
            continue
    order = list(specs)
    prepared = challenger.ranker.prepare([reqs[i].opportunity.to_query() for i in order])
    shared = (time.perf_counter() - started) / max(1, len(order))
    out: list[ChallengerRanking | None] = [None] * len(reqs)
    for i, opp in zip(order, prepared, strict=True):
        began = time.perf_counter()
        try:
            result = withheld[i].applied_to(challenger.ranker.rank(opp, specs[i]), reqs[i].k)
        except RankingError:
            continue
        out[i] = ChallengerRanking(teams_of(result), shared + time.perf_counter() - began)
    return out


def shadow(
    request: Request,
    background: BackgroundTasks,
    serving: Serving,
    reqs: Sequence[RecommendationRequest],
    responses: Sequence[RecommendationResponse | ApiError],
    request_id: str,
) -> None:
    """Have the challenger (if any) rank these requests after the response is sent, when sampled."""
    scorer: ShadowScorer | None = getattr(request.app.state, "shadow", None)
    challenger = request.app.state.holder.challenger
    if scorer is None or challenger is None or not scorer.sampled():
        return
    rank_with = partial(challenger_rankings, feedback_rules(request.app.state))
    background.add_task(scorer.score, rank_with, serving.version, challenger, request_id, reqs, responses)
