"""Partner sync from a PRM: upsert, read and deactivate one partner, and a bulk upsert.

Writes go through `features.store.Store` (the one writer of partners), then the served model swaps in a
new FeatureSnapshot (that partner re-embedded, its role index updated), so the change is served at once
and no request waits; a new partner is served as cold start (no deal history) until retraining.
Other workers replay the change from the store's serving events (serving/sync.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from typing import Any

import pandas as pd
from fastapi import APIRouter, Path, Request

from features import schema as s
from features.store_reads import partner_certifications
from serving.dependencies import ApiStoreDep, IdempotencyDep, ReadCaller, WriteCaller
from serving.ecosystem import DealBooks, certification_statuses, track_record
from serving.errors import ApiError, route_errors
from serving.model_holder import ModelHolder
from serving.persistence import ApiStore
from serving.schemas import (
    MAX_ID,
    PartnerBulkItem,
    PartnerBulkRequest,
    PartnerIn,
    PartnerOut,
    PartnerWriteResult,
)
from serving.sync import DEACTIVATE, PARTNERS, EventFollower, apply_deactivation, apply_partners

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["partners"])

PartnerPath = Path(min_length=1, max_length=MAX_ID, description="the PRM's partner id")
ERRORS = route_errors(404, 409)


def _roles(request: Request) -> tuple[str, ...]:
    holder: ModelHolder = request.app.state.holder
    return tuple(holder.settings.roles)


def _frames(
    items: Sequence[tuple[str, PartnerIn]], roles: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Contract rows for the store; the same rules as ingest (role set, enumerations, ranges, unique ids)."""
    seen: set[str] = set()
    partners: list[dict[str, Any]] = []
    certifications: list[dict[str, Any]] = []
    for pid, item in items:
        if pid in seen:
            raise ApiError(409, f"partner_id {pid} appears twice", "conflicting_request")
        seen.add(pid)
        if item.partner_type not in roles:
            raise ApiError(
                422, f"partner {pid}: partner_type {item.partner_type!r} is not one of {', '.join(roles)}"
            )
        row = item.model_dump(exclude={"certifications"})
        row[s.PARTNER_ID] = pid
        partners.append(row)
        names = [c.certification for c in item.certifications]
        if len(set(names)) != len(names):
            raise ApiError(409, f"partner {pid}: a certification is listed twice", "conflicting_request")
        certifications.extend({s.PARTNER_ID: pid, **c.model_dump()} for c in item.certifications)
    cert_frame = pd.DataFrame(certifications, columns=list(s.COLUMNS[s.CERTIFICATIONS]))
    return pd.DataFrame(partners), cert_frame


def _write(
    request: Request, api_store: ApiStore, items: Sequence[tuple[str, PartnerIn]]
) -> PartnerWriteResult:
    partners, certifications = _frames(items, _roles(request))
    written = api_store.store.upsert_partners(partners, certifications)
    full = [PartnerBulkItem(partner_id=pid, **item.model_dump(exclude={"partner_id"})) for pid, item in items]
    holder: ModelHolder = request.app.state.holder
    served_now = apply_partners(holder, full)
    events: EventFollower = request.app.state.events
    events.publish(PARTNERS, {PARTNERS: [item.model_dump(mode="json") for item in full]})
    message = (
        "stored and indexed; new partners are served as cold start until the next training"
        if served_now
        else "stored; served once a model is loaded"
    )
    return PartnerWriteResult(
        partner_ids=[pid for pid, _ in items], written=written, served_now=served_now, message=message
    )


@router.put(
    "/partners/{partner_id}",
    response_model=PartnerWriteResult,
    responses=ERRORS,
    summary="Create or update one partner",
)
def put_partner(
    body: PartnerIn,
    request: Request,
    _: WriteCaller,
    idem: IdempotencyDep,
    api_store: ApiStoreDep,
    partner_id: str = PartnerPath,
) -> PartnerWriteResult:
    result = _write(request, api_store, [(partner_id, body)])
    idem.remember(200, result)
    return result


@router.post(
    "/partners:bulk",
    response_model=PartnerWriteResult,
    responses=ERRORS,
    summary="Create or update up to 1000 partners in one transaction",
)
def bulk_upsert(
    body: PartnerBulkRequest, request: Request, _: WriteCaller, idem: IdempotencyDep, api_store: ApiStoreDep
) -> PartnerWriteResult:
    items: list[tuple[str, PartnerIn]] = [(p.partner_id, p) for p in body.partners]
    result = _write(request, api_store, items)
    idem.remember(200, result)
    return result


@router.get("/partners/{partner_id}", response_model=PartnerOut, responses=ERRORS, summary="One partner")
def get_partner(
    request: Request, _: ReadCaller, api_store: ApiStoreDep, partner_id: str = PartnerPath
) -> PartnerOut:
    row = api_store.partner(partner_id)
    if row is None:
        raise ApiError(404, f"no partner {partner_id}")
    holder: ModelHolder = request.app.state.holder
    current = holder.current
    served, cold = False, None
    if current is not None and current.ranker.knows(partner_id):
        snapshot = current.ranker.snapshot
        served = snapshot.partner(partner_id)[s.STATUS] == s.DEFAULT_PARTNER_STATUS
        cold = bool(snapshot.cold_start([partner_id], date.today())[0])
    books: DealBooks = request.app.state.deal_books
    return PartnerOut(
        **{k: v for k, v in row.items() if k in PartnerOut.model_fields},
        served=served,
        cold_start=cold,
        certifications=certification_statuses(
            partner_certifications(api_store.store, partner_id), date.today()
        ),
        track_record=track_record(books.current(), partner_id),
    )


@router.delete(
    "/partners/{partner_id}",
    response_model=PartnerWriteResult,
    responses=ERRORS,
    summary="Deactivate a partner: never suggested again",
)
def delete_partner(
    request: Request,
    _: WriteCaller,
    idem: IdempotencyDep,
    api_store: ApiStoreDep,
    partner_id: str = PartnerPath,
) -> PartnerWriteResult:
    if not api_store.store.deactivate_partner(partner_id):
        raise ApiError(404, f"no partner {partner_id}")
    holder: ModelHolder = request.app.state.holder
    served_now = apply_deactivation(holder, partner_id)
    events: EventFollower = request.app.state.events
    events.publish(DEACTIVATE, {s.PARTNER_ID: partner_id})
    result = PartnerWriteResult(
        partner_ids=[partner_id],
        written=1,
        served_now=served_now,
        message="deactivated; never suggested again",
    )
    idem.remember(200, result)
    return result
