"""Outcomes posted to the API become deal history: a closed opportunity and its team in the contract tables.

Where the opportunity's details (contract fields) come from:
- an opportunity the store holds from an export keeps the export's details (the system of record);
- otherwise the `details` given with the outcome, else an API record's stored details (a call without
  details does not undo an earlier correction), else the latest recommendation request logged for the
  opportunity id in audit_log (its created_at defaults to the day of that request); none: OutcomeRejected.
The outcome's own deal_size, when given, replaces the details' one (it is the final amount); closed_at
defaults to the stored close date of a closed record, else today.

The candidate rows are checked by the data contract's rules (features/contract.py `validate_rows`),
together with the partners they name and the stored bids sharing their request_id, so an outcome cannot
put into the history what an export could not.

Provenance and conflicts (`opportunities.origin`):
- an exported CLOSED opportunity is never changed: an outcome that agrees (same outcome and team) is
  UNCHANGED, one that disagrees is a CONFLICT (the export wins, nothing changes; the caller logs it);
- an exported OPEN opportunity is closed by the outcome (outcome, closed_at, team, and the deal size when
  given, replaced) and its origin becomes "api": CLOSED;
- an opportunity the store lacks is added with origin "api": ADDED;
- an API record is corrected by a later outcome with other values: UPDATED; the same values: UNCHANGED;
- a later export that lists any API record replaces it with the export's values (features/store.py).
Point in time: the history features count a deal only for opportunities created after it closed, whatever
its origin (features/history.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, delete, func, insert, select, update

from features import schema as s
from features import tables as t
from features.contract import normalise_table, validate_rows
from features.violations import ContractError, Violation

# The contract fields of an opportunity that are not its outcome: what `details` may give.
DETAIL_FIELDS = tuple(
    f for f in s.COLUMNS[s.OPPORTUNITIES] if f not in (s.OPPORTUNITY_ID, s.OUTCOME, s.CLOSED_AT)
)
AUDITED_OPPORTUNITY = "opportunity"  # where audit_log.request holds the ranked opportunity


class OutcomeStatus(StrEnum):
    """What applying an outcome did to the deal history (outcomes.status; returned to the caller)."""

    ADDED = "added"
    CLOSED = "closed"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"


# Statuses that leave the contract tables as they were.
UNCHANGING = frozenset({OutcomeStatus.UNCHANGED, OutcomeStatus.CONFLICT})


class OutcomeRejected(ValueError):
    """The outcome cannot become history: no details to build its opportunity from, or a contract rule
    broken. `code` is stable for clients; the message names the field and why."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


NEEDS_DETAILS = "opportunity_details_needed"
BREAKS_CONTRACT = "outcome_breaks_contract"


@dataclass(frozen=True)
class Seat:
    """One member of the team that worked the deal."""

    partner_id: str
    role: str
    sourced: bool | None = None


@dataclass(frozen=True)
class ReportedOutcome:
    """An outcome as an integration reported it; `details` holds contract fields (DETAIL_FIELDS)."""

    opportunity_id: str
    outcome: str
    team: tuple[Seat, ...]
    closed_at: date | None = None
    deal_size: float | None = None
    details: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class AppliedOutcome:
    """What the outcome did to the history, in a sentence too, and the close date it was recorded with."""

    status: OutcomeStatus
    detail: str
    closed_at: date | None


@dataclass(frozen=True)
class _Stored:
    row: dict[str, Any]  # contract columns, plain Python values
    origin: str
    team: list[dict[str, Any]]

    @property
    def closed(self) -> bool:
        return self.row[s.OUTCOME] != s.OPEN


def apply_outcome(
    conn: Connection, reported: ReportedOutcome, *, roles: Sequence[str], today: date | None = None
) -> AppliedOutcome:
    """Apply one outcome to the contract tables inside the caller's write transaction (see module rules).

    Raises OutcomeRejected before writing anything; the caller's rollback undoes nothing else then.
    """
    opportunity_id = reported.opportunity_id
    if conn.dialect.name == "postgresql":
        # Two outcomes for one new id must not both insert it (SQLite writers are serialised already).
        conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(opportunity_id))))
    stored = _stored(conn, opportunity_id)
    exported = stored is not None and stored.origin == t.ORIGIN_EXPORT
    if stored is not None and (exported or reported.details is None):
        details, source = {f: stored.row[f] for f in DETAIL_FIELDS}, "the stored record"
    elif reported.details is not None:
        details, source = dict(reported.details), "the call"
    else:
        details, source = _audited_details(conn, opportunity_id)
    closed_at = (
        reported.closed_at
        or (stored.row[s.CLOSED_AT] if stored is not None and stored.closed else None)
        or (today or date.today())
    )
    row = {
        s.OPPORTUNITY_ID: opportunity_id,
        **{f: details.get(f) for f in DETAIL_FIELDS},
        s.CLOSED_AT: closed_at,
        s.OUTCOME: reported.outcome,
    }
    if reported.deal_size is not None:
        row[s.DEAL_SIZE] = reported.deal_size
    seats = [
        {s.OPPORTUNITY_ID: opportunity_id, s.PARTNER_ID: m.partner_id, s.ROLE: m.role, s.SOURCED: m.sourced}
        for m in reported.team
    ]
    candidate, team = _validated(conn, row, seats, roles)

    if stored is not None and exported and stored.closed:
        return _against_export(stored, reported, closed_at)
    if stored is not None and not exported and candidate == stored.row and _same(team, stored.team):
        return AppliedOutcome(
            OutcomeStatus.UNCHANGED, "the API record already says this; nothing changed", closed_at
        )
    _write(conn, candidate, team, update_existing=stored is not None)
    members = f"a team of {len(team)}"
    if stored is None:
        status, what = (
            OutcomeStatus.ADDED,
            f"added {opportunity_id!r} as a {reported.outcome} deal with {members}",
        )
    elif exported:
        status, what = (
            OutcomeStatus.CLOSED,
            f"closed the exported open opportunity as {reported.outcome} with {members}",
        )
    else:
        status, what = OutcomeStatus.UPDATED, f"corrected the API record: {reported.outcome} with {members}"
    return AppliedOutcome(status, f"{what}; details from {source}; a later export's values win", closed_at)


def _against_export(stored: _Stored, reported: ReportedOutcome, closed_at: date | None) -> AppliedOutcome:
    """An exported closed deal is never changed: the outcome agrees with it or conflicts."""
    given = {(m.partner_id, m.role) for m in reported.team}
    kept = {(m[s.PARTNER_ID], m[s.ROLE]) for m in stored.team}
    if stored.row[s.OUTCOME] == reported.outcome and given == kept:
        return AppliedOutcome(
            OutcomeStatus.UNCHANGED, "agrees with the exported record; nothing changed", closed_at
        )
    team = ", ".join(f"{role} {partner}" for partner, role in sorted(kept, key=lambda pr: (pr[1], pr[0])))
    detail = (
        f"the export records opportunity {reported.opportunity_id!r} as {stored.row[s.OUTCOME]}"
        f" on {stored.row[s.CLOSED_AT] or 'an unknown date'} with team [{team or 'none'}];"
        " the export is the system of record and wins, so this outcome changed nothing"
    )
    return AppliedOutcome(OutcomeStatus.CONFLICT, detail, closed_at)


# Reading --------------------------------------------------------------------------------------


def _stored(conn: Connection, opportunity_id: str) -> _Stored | None:
    opp = t.opportunities
    found = conn.execute(select(opp).where(opp.c[s.OPPORTUNITY_ID] == opportunity_id)).mappings().first()
    if found is None:
        return None
    seats = t.deal_partners
    team = conn.execute(select(seats).where(seats.c[s.OPPORTUNITY_ID] == opportunity_id)).mappings().all()
    row = _plain(pd.DataFrame([{c: found[c] for c in s.COLUMNS[s.OPPORTUNITIES]}]), s.OPPORTUNITIES)[0]
    return _Stored(row, str(found[t.ORIGIN]), _plain(pd.DataFrame([dict(m) for m in team]), s.DEAL_PARTNERS))


def _audited_details(conn: Connection, opportunity_id: str) -> tuple[dict[str, Any], str]:
    """The opportunity of the latest recommendation request for this id."""
    audit = t.audit_log
    found = conn.execute(
        select(audit.c.request, audit.c.created_at)
        .where(audit.c[s.OPPORTUNITY_ID] == opportunity_id)
        .order_by(audit.c.id.desc())
        .limit(1)
    ).first()
    request, requested = (found[0], found[1]) if found is not None else (None, None)
    asked = request.get(AUDITED_OPPORTUNITY) if isinstance(request, dict) else None
    if not isinstance(asked, dict) or not isinstance(requested, datetime):
        raise OutcomeRejected(
            f"opportunity {opportunity_id!r} is unknown: give its details in `opportunity`, or request a "
            "recommendation for that opportunity_id first",
            NEEDS_DETAILS,
        )
    details = {f: asked.get(f) for f in DETAIL_FIELDS}
    # As the ranker read them (OpportunityQuery): stripped, shortened, blanks dropped.
    skills = asked.get(s.REQUIRED_SKILLS) or []
    details[s.REQUIRED_SKILLS] = [str(tag).strip()[: s.MAX_TAG] for tag in skills if str(tag).strip()]
    details[s.CREATED_AT] = details[s.CREATED_AT] or requested.date()
    return details, f"the recommendation request of {requested.date()}"


# Checking -------------------------------------------------------------------------------------


def _validated(
    conn: Connection, row: dict[str, Any], seats: list[dict[str, Any]], roles: Sequence[str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The candidate row and team after the contract's rules, normalised as ingest normalises them."""
    opp = t.opportunities
    rivals: list[dict[str, Any]] = []
    if row.get(s.REQUEST_ID):
        # Bids sharing the request compete with this one: at most one of them may be won.
        found = conn.execute(
            select(*(opp.c[c] for c in s.COLUMNS[s.OPPORTUNITIES])).where(
                opp.c[s.REQUEST_ID] == row[s.REQUEST_ID], opp.c[s.OPPORTUNITY_ID] != row[s.OPPORTUNITY_ID]
            )
        ).mappings()
        rivals = [dict(r) for r in found]
    named = {seat[s.PARTNER_ID] for seat in seats} | ({row[s.REGISTERED_PARTNER_ID]} - {None})
    partners = t.partners.c[s.PARTNER_ID]
    known = set(conn.execute(select(partners).where(partners.in_(sorted(named)))).scalars())
    rows = [row, *rivals]
    try:
        tables = validate_rows(
            {s.OPPORTUNITIES: _cells(rows, s.OPPORTUNITIES), s.DEAL_PARTNERS: _cells(seats, s.DEAL_PARTNERS)},
            roles=roles,
            known_partner_ids=known,
        )
    except ContractError as err:
        ids = [str(r[s.OPPORTUNITY_ID]) for r in rows]
        reasons = "; ".join(_where(v, ids) for v in err.violations)
        raise OutcomeRejected(
            f"the outcome breaks data contract v{s.CONTRACT_VERSION}: {reasons}", BREAKS_CONTRACT
        ) from None
    return _plain(tables.opportunities, s.OPPORTUNITIES)[0], _plain(tables.deal_partners, s.DEAL_PARTNERS)


def _where(violation: Violation, ids: Sequence[str]) -> str:
    """A violation named by the request's fields: `opportunity.<column>` or `team[i].<column>`."""
    row = violation.row or 1
    if violation.file == s.DEAL_PARTNERS:
        where = f"team[{row - 1}]"
    elif row == 1:
        where = "opportunity"
    else:
        where = f"stored opportunity {ids[row - 1]!r}"
    return (
        f"{where}.{violation.column}: {violation.reason}"
        if violation.column
        else f"{where}: {violation.reason}"
    )


def _cells(rows: Sequence[Mapping[str, Any]], table: str) -> pd.DataFrame:
    """Rows as an export file holds them (text cells, `;`-separated lists, blank = missing)."""
    columns = s.COLUMNS[table]
    return pd.DataFrame(
        [[_cell(r.get(c)) for c in columns] for r in rows], columns=list(columns), dtype=object
    )


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return s.LIST_SEPARATOR.join(str(item) for item in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _plain(frame: pd.DataFrame, table: str) -> list[dict[str, Any]]:
    """Normalised rows as plain Python values (None, date, list), comparable and ready for the driver."""
    rows = normalise_table(table, frame).astype(object).to_dict("records")
    return [{str(c): _value(v) for c, v in r.items()} for r in rows]


def _value(value: Any) -> Any:
    if isinstance(value, list):
        return value
    if pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _same(team: list[dict[str, Any]], stored: list[dict[str, Any]]) -> bool:
    def key(seat: dict[str, Any]) -> tuple[str, str]:
        return seat[s.ROLE], seat[s.PARTNER_ID]

    return sorted(team, key=key) == sorted(stored, key=key)


# Writing --------------------------------------------------------------------------------------


def _write(
    conn: Connection, row: dict[str, Any], team: list[dict[str, Any]], *, update_existing: bool
) -> None:
    opp, seats = t.opportunities, t.deal_partners
    opportunity_id = row[s.OPPORTUNITY_ID]
    values = {**row, t.ORIGIN: t.ORIGIN_API, "updated_at": datetime.now().replace(microsecond=0)}
    if update_existing:
        conn.execute(update(opp).where(opp.c[s.OPPORTUNITY_ID] == opportunity_id).values(values))
    else:
        conn.execute(insert(opp), values)
    # The outcome's team is the deal's whole team, as an export's deal_partners for a listed opportunity.
    conn.execute(delete(seats).where(seats.c[s.OPPORTUNITY_ID] == opportunity_id))
    if team:
        conn.execute(insert(seats), team)
