"""The overview: co-selling KPIs and each model version's online report, drawn as charts."""

from __future__ import annotations

from fastapi import APIRouter
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from serving.auth import Scope
from serving.persistence import ApiStore
from serving.report_schemas import EcosystemKpis, PerformanceReport, Rate, VersionPerformance
from serving.routers.ecosystem import ecosystem_kpis
from serving.routers.performance import model_performance
from serving.web.access import authorise
from serving.web.charts import Bar, bar_chart, compact, percent
from serving.web.render import PageRoute, page

router = APIRouter(route_class=PageRoute, include_in_schema=False)

TOP_PAIRS = 8


def _rate_bar(label: str, rate: Rate, tone: str = "primary") -> Bar:
    text = f"{percent(rate.rate)} of {rate.count}" if rate.count else "no data"
    return Bar(label, rate.rate or 0.0, text, tone)


def kpi_charts(kpis: EcosystemKpis) -> list[Markup]:
    sizes = [(f"{k.partners} partner{'' if k.partners == '1' else 's'}", k) for k in kpis.by_team_size]
    days = [(label, k.median_days_to_close) for label, k in sizes if k.median_days_to_close is not None]
    revenue = [("sourced", kpis.sourced), ("influenced", kpis.influenced)]
    return [
        bar_chart(
            "Win rate by partners on the deal", [_rate_bar(label, k.win_rate) for label, k in sizes], 1.0
        ),
        bar_chart(
            "Median days to close a won deal, by partners on it",
            [Bar(label, value, f"{value:.0f} days", "muted") for label, value in days],
        ),
        bar_chart(
            "Won revenue: partner-sourced against influenced",
            [
                Bar(name, split.revenue, f"{compact(split.revenue)} ({split.won} won)", "good")
                for name, split in revenue
            ],
        ),
        bar_chart(
            "Partner pairs that win together most",
            [
                Bar(
                    " + ".join(p.names),
                    p.joint_wins,
                    f"{p.joint_wins} wins, {percent(p.win_rate.rate)} of {p.win_rate.count}",
                )
                for p in kpis.top_pairs[:TOP_PAIRS]
            ],
        ),
    ]


def _acceptance(v: VersionPerformance) -> Rate:
    judged = v.feedback_accepted + v.feedback_rejected
    return Rate(hits=v.feedback_accepted, count=judged, rate=v.feedback_accepted / judged if judged else None)


def _version(v: VersionPerformance) -> str:
    return f"version {v.model_version}" if v.model_version else "no answer on record"


def performance_charts(report: PerformanceReport) -> list[Markup]:
    versions = report.versions
    charts = [
        bar_chart(
            "Answers served per model version",
            [Bar(_version(v), v.requests, f"{v.requests}") for v in versions],
        ),
        bar_chart(
            "Rep acceptance per model version",
            [_rate_bar(_version(v), _acceptance(v), "good") for v in versions if v.model_version],
            1.0,
        ),
    ]
    latest = next((v for v in versions if v.model_version), None)
    if latest is not None:
        ranked = [a for a in latest.acceptance_by_rank if a.bucket == "ranked" and a.rank is not None]
        charts.append(
            bar_chart(
                f"Acceptance by rank of the team ({_version(latest)})",
                [_rate_bar(f"rank {a.rank}", a.acceptance, "good") for a in ranked],
                1.0,
            )
        )
        charts.append(
            bar_chart(
                f"Why reps rejected suggestions ({_version(latest)})",
                [
                    Bar(r.reason_code.replace("_", " "), r.count, str(r.count), "bad")
                    for r in latest.rejections_by_reason
                ],
            )
        )
        o = latest.outcomes
        charts.append(
            bar_chart(
                f"Win rate of closed deals by what the model suggested ({_version(latest)})",
                [
                    _rate_bar("team was the first suggestion", o.win_rate_when_top1, "good"),
                    _rate_bar("team was among the suggestions", o.win_rate_when_in_top_k),
                    _rate_bar("team was not suggested", o.win_rate_when_not_suggested, "muted"),
                ],
                1.0,
            )
        )
    return charts


@router.get("/overview")
def overview(request: Request) -> Response:
    """KPIs (GET /v1/ecosystem/kpis) and the per-version report (GET /v1/model/performance)."""
    caller = authorise(request, Scope.READ)
    api_store: ApiStore = request.app.state.api_store
    kpis = ecosystem_kpis(request, caller)
    report = model_performance(api_store, caller)
    context = {
        "kpis": kpis,
        "kpi_charts": kpi_charts(kpis),
        "report": report,
        "performance_charts": performance_charts(report),
    }
    return page(request, "overview.html", context)
