"""How each model version does online: answers served, rep feedback, outcomes, and shadow comparisons."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from serving.dependencies import ApiStoreDep, ReadCaller
from serving.performance import performance_report
from serving.report_schemas import PerformanceReport
from serving.schemas import EARLIEST_DATE, LATEST_DATE

router = APIRouter(prefix="/v1", tags=["model"])


@router.get(
    "/model/performance",
    response_model=PerformanceReport,
    summary="Per model version: answers, feedback by rank and reason, outcomes; challenger vs champion",
)
def model_performance(
    api_store: ApiStoreDep,
    _: ReadCaller,
    since: Annotated[
        date | None,
        Query(ge=EARLIEST_DATE, le=LATEST_DATE, description="only records from this day (YYYY-MM-DD)"),
    ] = None,
    version: Annotated[
        str | None,
        Query(min_length=1, max_length=32, pattern=r"^[0-9]+$", description="only this model version"),
    ] = None,
) -> PerformanceReport:
    """Every rate comes with its count. Feedback is credited to the version and rank of the answer its
    `request_id` names; outcomes to the latest answer of each version for that opportunity."""
    return performance_report(api_store.engine, since, version)
