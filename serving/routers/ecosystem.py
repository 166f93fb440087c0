"""Ecosystem KPIs from the store's closed deals: team size against win rate, sourced against influenced."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request

from serving.dependencies import ReadCaller
from serving.ecosystem import DEFAULT_PAIRS, DealBooks
from serving.report_schemas import MAX_PAIRS, EcosystemKpis
from serving.schemas import EARLIEST_DATE, LATEST_DATE

router = APIRouter(prefix="/v1", tags=["ecosystem"])


@router.get(
    "/ecosystem/kpis",
    response_model=EcosystemKpis,
    summary="Win rate and velocity by partners per deal, sourced vs influenced revenue, top partner pairs",
)
def ecosystem_kpis(
    request: Request,
    _: ReadCaller,
    since: Annotated[
        date | None,
        Query(ge=EARLIEST_DATE, le=LATEST_DATE, description="only deals closed on or after this day"),
    ] = None,
    pairs: Annotated[int, Query(ge=1, le=MAX_PAIRS, description="partner pairs to list")] = DEFAULT_PAIRS,
) -> EcosystemKpis:
    """Every rate comes with its count. Computed once per change of the store's deals, not per call."""
    books: DealBooks = request.app.state.deal_books
    return books.kpis(since, pairs)
