"""What the sales-rep page and PRM integrations read besides rankings: partner search, vocabularies,
ecosystem KPIs and a partner's track record, as plain functions over a snapshot or the store's deals."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import chain
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from features import schema as s
from features.catalog import PartnerCatalog, certificate_valid
from features.history import to_day
from features.records import EcosystemTables
from features.slots import segments
from features.snapshot import FeatureSnapshot
from features.store import Store
from features.store_reads import deal_mark
from serving.report_schemas import (
    HIT_SKILLS,
    WINS_MOST_WITH,
    CertificationStatus,
    CoSeller,
    DealSplit,
    EcosystemKpis,
    PartnerHit,
    PartnerPair,
    PartnerSearchResult,
    Rate,
    TagCount,
    TeamSizeKpi,
    TrackRecord,
    Vocabulary,
)

DEFAULT_PAIRS: Final = 10
# The deal book is rebuilt when the store's deal logs move, and at least this often: partner renames
# reach pair names this late at most.
DEAL_BOOK_MAX_AGE_SECONDS: Final = 600.0
# KPI answers kept per deal book (one per `since` asked for).
MAX_CACHED_KPIS: Final = 64
# Catalog indexes kept: the served snapshot's, plus the previous ones while requests still read them.
MAX_CACHED_INDEXES: Final = 4
# Names and tags are joined with NUL between them: the contract refuses it in text, so no match spans two.
SEPARATOR: Final = s.NUL


def _rate(hits: int, count: int) -> Rate:
    return Rate(hits=hits, count=count, rate=hits / count if count else None)


# -- partner search and vocabularies (over the served snapshot) ----------------------------------------


@dataclass(frozen=True)
class _Joined:
    """Strings joined into one text, to find a substring in all of them with one scan."""

    text: str
    starts: np.ndarray

    @classmethod
    def of(cls, values: Sequence[str]) -> _Joined:
        lengths = np.fromiter((len(v) + 1 for v in values), dtype=np.int64, count=len(values))
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        return cls(SEPARATOR.join(values) + SEPARATOR, starts)

    def containing(self, needle: str) -> tuple[np.ndarray, np.ndarray]:
        """Positions of the values containing `needle`, ascending, and whether it starts each of them."""
        at = np.fromiter((m.start() for m in re.finditer(re.escape(needle), self.text)), dtype=np.int64)
        owners = np.searchsorted(self.starts, at, side="right") - 1
        first = np.unique(owners, return_index=True)[1]
        return owners[first], at[first] == self.starts[owners[first]]


@dataclass(frozen=True)
class CatalogIndex:
    """Lower-cased names and skill tags of one catalog, with each tag's partners; built once per catalog.

    Skill tags are grouped case-insensitively ("AWS" and "aws" are one tag), shown in their most common
    spelling; `tag_partners` is a CSR layout (offsets per tag) of the partner rows listing each.
    """

    names: _Joined
    name_order: np.ndarray
    tags: tuple[str, ...]
    tag_text: _Joined
    tag_offsets: np.ndarray
    tag_partners: np.ndarray
    tag_active: np.ndarray
    tag_of: Mapping[str, int]
    regions: Counter[str]
    industries: Counter[str]

    @classmethod
    def build(cls, catalog: PartnerCatalog, phrases: Sequence[str]) -> CatalogIndex:
        n = len(catalog)
        names = [str(v).lower() for v in catalog.partners[s.NAME].tolist()]
        lowered, group_of_phrase = np.unique(
            np.asarray([p.lower() for p in phrases] or [""], dtype=object), return_inverse=True
        )
        codes = catalog.tag_codes
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(catalog.tag_offsets))[codes >= 0]
        codes = codes[codes >= 0]
        groups = group_of_phrase[codes].astype(np.int64)
        keys = np.unique(groups * max(n, 1) + rows)
        tag_rows, tag_groups = keys % max(n, 1), keys // max(n, 1)
        offsets = np.searchsorted(tag_groups, np.arange(len(lowered) + 1)).astype(np.int64)
        # Shown spelling: the one most partners use, ties by the spelling's own order.
        spelled = pd.DataFrame({"group": groups, "code": codes}).value_counts().reset_index(name="n")
        spelled = spelled.sort_values(["group", "n", "code"], ascending=[True, False, True])
        shown = dict(zip(spelled["group"].tolist(), spelled["code"].tolist(), strict=True))
        tags = tuple(str(phrases[shown[g]]) if g in shown else str(lowered[g]) for g in range(len(lowered)))
        active = catalog.active
        return cls(
            names=_Joined.of(names),
            name_order=np.argsort(np.argsort(np.asarray(names, dtype=object), kind="stable"), kind="stable"),
            tags=tags,
            tag_text=_Joined.of([str(v) for v in lowered]),
            tag_offsets=offsets,
            tag_partners=tag_rows,
            tag_active=np.bincount(tag_groups[active[tag_rows]], minlength=len(lowered)),
            tag_of={str(v): i for i, v in enumerate(lowered)},
            regions=Counter(chain.from_iterable(catalog.regions[i] for i in np.flatnonzero(active))),
            industries=Counter(chain.from_iterable(catalog.industries[i] for i in np.flatnonzero(active))),
        )

    def tag_rows(self, tags: np.ndarray) -> np.ndarray:
        """Partner rows listing any of these tag groups, ascending."""
        _, positions = segments(self.tag_offsets, tags)
        return np.unique(self.tag_partners[positions])


_indexes: list[tuple[PartnerCatalog, CatalogIndex]] = []
_indexes_lock = threading.Lock()


def catalog_index(snapshot: FeatureSnapshot) -> CatalogIndex:
    """The search index of the snapshot's catalog, built on its first search (a partner change builds a
    new catalog, so a new index)."""
    catalog = snapshot.catalog
    with _indexes_lock:
        for held, index in _indexes:
            if held is catalog:
                return index
    index = CatalogIndex.build(catalog, snapshot.vocabulary.names)
    with _indexes_lock:
        _indexes.insert(0, (catalog, index))
        del _indexes[MAX_CACHED_INDEXES:]
    return index


def search_partners(
    snapshot: FeatureSnapshot,
    q: str | None = None,
    skill: str | None = None,
    role: str | None = None,
    limit: int = 20,
    include_inactive: bool = False,
    today: date | None = None,
) -> PartnerSearchResult:
    """Partners whose name or one of whose skill tags contains `q` (case-insensitive), that list the
    tag `skill` and play `role`; active ones only unless `include_inactive`.

    Order: active first, then name matches starting with `q`, other name matches, skill-tag matches;
    ties by name. Without `q` every partner passing the filters matches, by name.
    """
    catalog = snapshot.catalog
    index = catalog_index(snapshot)
    n = len(catalog)
    keep = np.ones(n, dtype=bool) if include_inactive else catalog.active.copy()
    if role:
        keep &= catalog.role == role
    if skill:
        group = index.tag_of.get(skill.strip().lower())
        listed = np.zeros(n, dtype=bool)
        if group is not None:
            listed[index.tag_rows(np.asarray([group], dtype=np.int64))] = True
        keep &= listed
    needle = (q or "").strip().lower()
    # 0: name starts with q, 1: name contains q, 2: a skill tag contains q, 3: no match.
    kind = np.full(n, 3 if needle else 0, dtype=np.int64)
    if needle and SEPARATOR not in needle:
        tagged = index.tag_rows(index.tag_text.containing(needle)[0])
        kind[tagged] = 2
        named, prefix = index.names.containing(needle)
        kind[named] = np.where(prefix, 0, 1)
    rows = np.flatnonzero(keep & (kind < 3))
    order = np.lexsort((index.name_order[rows], kind[rows], ~catalog.active[rows]))
    top = rows[order[:limit]]
    ids = [str(v) for v in catalog.ids[top]]
    cold = snapshot.cold_start(ids, today or date.today()) if ids else np.zeros(0, dtype=bool)
    matched: tuple[Literal["name", "skill", "filter"], ...] = ("name", "name", "skill", "filter")
    hits = []
    for pid, row, is_cold in zip(ids, top.tolist(), cold.tolist(), strict=True):
        profile = catalog.profile(pid)
        skills = profile[s.SKILLS]
        hits.append(
            PartnerHit(
                partner_id=pid,
                name=str(profile[s.NAME]),
                role=str(profile[s.PARTNER_TYPE]),
                tier=str(profile[s.TIER]),
                regions=profile[s.REGIONS],
                skills=skills[:HIT_SKILLS],
                skill_count=len(skills),
                active=bool(catalog.active[row]),
                cold_start=bool(is_cold),
                matched_on=matched[int(kind[row])] if needle else "filter",
            )
        )
    return PartnerSearchResult(total=len(rows), partners=hits)


def _vocabulary(
    kind: Literal["skills", "industries", "regions"],
    counts: Mapping[str, int],
    prefix: str | None,
    limit: int,
) -> Vocabulary:
    start = (prefix or "").strip().lower()
    found = [(value, n) for value, n in counts.items() if n > 0 and value.lower().startswith(start)]
    found.sort(key=lambda item: (-item[1], item[0]))
    values = [TagCount(value=value, partners=n) for value, n in found[:limit]]
    return Vocabulary(kind=kind, total=len(found), values=values)


def skill_vocabulary(snapshot: FeatureSnapshot, prefix: str | None = None, limit: int = 20) -> Vocabulary:
    """Skill tags starting with `prefix` (case-insensitive), with the active partners listing each, most
    listed first (ties by tag): the counts are what `search_partners(skill=tag)` finds."""
    index = catalog_index(snapshot)
    return _vocabulary("skills", dict(zip(index.tags, index.tag_active.tolist(), strict=True)), prefix, limit)


def industries(snapshot: FeatureSnapshot, prefix: str | None = None, limit: int = 200) -> Vocabulary:
    """Industries active partners list, with how many list each, most listed first."""
    return _vocabulary("industries", catalog_index(snapshot).industries, prefix, limit)


def regions(snapshot: FeatureSnapshot, prefix: str | None = None, limit: int = 200) -> Vocabulary:
    """Regions active partners cover, with how many cover each, most covered first."""
    return _vocabulary("regions", catalog_index(snapshot).regions, prefix, limit)


# -- closed deals: ecosystem KPIs and track records (over the store's tables) --------------------------

_DEAL = "deal"
_WON = "won"
_SIZE = "size"
_DAYS = "days"
_CLOSED = "closed"


@dataclass(frozen=True)
class DealBook:
    """The store's closed deals and the partners that worked them, indexed once; never mutated.

    `seats` holds one row per (closed deal, partner), sorted by deal (a partner in two roles sits once,
    sourced if either seat was); `deal_offsets` is its CSR layout per deal, `partner_seats` each
    partner's seat positions.
    """

    deals: pd.DataFrame
    seats: pd.DataFrame
    deal_offsets: np.ndarray
    partner_seats: Mapping[str, np.ndarray]
    names: Mapping[str, str]

    def name(self, partner_id: str) -> str:
        return self.names.get(partner_id) or partner_id


def deal_book(tables: EcosystemTables) -> DealBook:
    """The closed (won or lost) deals of these tables and who worked them."""
    opps = tables.opportunities
    closed = opps[opps[s.OUTCOME].isin([s.WON, s.LOST])]
    closed_at = pd.to_datetime(closed[s.CLOSED_AT])
    days = (closed_at - pd.to_datetime(closed[s.CREATED_AT])).dt.days.clip(lower=0)
    deals = pd.DataFrame(
        {
            s.OPPORTUNITY_ID: closed[s.OPPORTUNITY_ID].astype(str).to_numpy(),
            _CLOSED: closed_at.to_numpy(),
            _WON: (closed[s.OUTCOME] == s.WON).to_numpy(),
            _SIZE: pd.to_numeric(closed[s.DEAL_SIZE], errors="coerce").fillna(0.0).to_numpy(dtype=float),
            _DAYS: days.to_numpy(dtype=float, na_value=np.nan),
        }
    )
    links = tables.deal_partners
    where = pd.Index(deals[s.OPPORTUNITY_ID]).get_indexer(links[s.OPPORTUNITY_ID].astype(str))
    on_closed = where >= 0
    seats = pd.DataFrame(
        {
            _DEAL: where[on_closed],
            s.PARTNER_ID: links[s.PARTNER_ID].astype(str).to_numpy()[on_closed],
            s.SOURCED: links[s.SOURCED].fillna(False).astype(bool).to_numpy()[on_closed],
        }
    )
    seats = seats.groupby([_DEAL, s.PARTNER_ID], sort=True)[s.SOURCED].max().reset_index()
    deal = seats[_DEAL].to_numpy()
    for column in (_WON, _SIZE, _DAYS):
        seats[column] = deals[column].to_numpy()[deal]
    partners = tables.partners
    return DealBook(
        deals=deals,
        seats=seats,
        deal_offsets=np.searchsorted(deal, np.arange(len(deals) + 1)).astype(np.int64),
        partner_seats={str(k): np.asarray(v) for k, v in seats.groupby(s.PARTNER_ID).indices.items()},
        names=dict(zip(partners[s.PARTNER_ID].astype(str), partners[s.NAME].astype(str), strict=True)),
    )


def _median(values: np.ndarray) -> float | None:
    known = values[~np.isnan(values)]
    return float(np.median(known)) if known.size else None


def _split(chosen: np.ndarray, won: np.ndarray, size: np.ndarray) -> DealSplit:
    return DealSplit(
        deals=int(chosen.sum()), won=int((chosen & won).sum()), revenue=float(size[chosen & won].sum())
    )


def _pairs(book: DealBook, seats: pd.DataFrame, top: int) -> list[PartnerPair]:
    """The partner pairs with the most joint wins on these seats; ties by win rate together, then ids."""
    left = seats[[_DEAL, s.PARTNER_ID, _WON]]
    both = left.merge(seats[[_DEAL, s.PARTNER_ID]], on=_DEAL, suffixes=("", "_b"))
    both = both[both[s.PARTNER_ID] < both[f"{s.PARTNER_ID}_b"]]
    if both.empty:
        return []
    table = both.groupby([s.PARTNER_ID, f"{s.PARTNER_ID}_b"], sort=False)[_WON].agg(["sum", "size"])
    table = table[table["sum"] > 0].reset_index()
    table["rate"] = table["sum"] / table["size"]
    table = table.sort_values(
        ["sum", "rate", s.PARTNER_ID, f"{s.PARTNER_ID}_b"], ascending=[False, False, True, True]
    ).head(top)
    return [
        PartnerPair(
            partner_ids=[a, b],
            names=[book.name(a), book.name(b)],
            joint_wins=int(wins),
            win_rate=_rate(int(wins), int(deals)),
        )
        for a, b, wins, deals in zip(
            table[s.PARTNER_ID], table[f"{s.PARTNER_ID}_b"], table["sum"], table["size"], strict=True
        )
    ]


def ecosystem_kpis(book: DealBook, since: date | None = None, pairs: int = DEFAULT_PAIRS) -> EcosystemKpis:
    """Win rate and deal velocity by the number of partners on a deal, partner-sourced against influenced
    deals and revenue, and the pairs of partners that win together most, over deals closed since `since`.

    A won deal whose team includes a partner that sourced it is sourced revenue; the other won deals
    worked by partners are influenced revenue. Deals without partners count only in `closed_deals`.
    """
    deals, seats = book.deals, book.seats
    chosen = np.ones(len(deals), dtype=bool)
    if since is not None:
        chosen = (deals[_CLOSED] >= pd.Timestamp(since)).to_numpy()
    seat_chosen = chosen[seats[_DEAL].to_numpy()]
    in_window = seats[seat_chosen]
    deal = in_window[_DEAL].to_numpy()
    team = np.bincount(deal, minlength=len(deals))
    sourced = np.bincount(deal, weights=in_window[s.SOURCED].to_numpy(dtype=float), minlength=len(deals)) > 0
    won = deals[_WON].to_numpy(dtype=bool)
    size = deals[_SIZE].to_numpy(dtype=float)
    days = deals[_DAYS].to_numpy(dtype=float)
    sizes: tuple[tuple[Literal["1", "2", "3+"], np.ndarray], ...] = (
        ("1", team == 1),
        ("2", team == 2),
        ("3+", team >= 3),
    )
    by_size = [
        TeamSizeKpi(
            partners=label,
            win_rate=_rate(int((bucket & won).sum()), int(bucket.sum())),
            median_days_to_close=_median(days[bucket & won]),
        )
        for label, bucket in sizes
    ]
    with_partners = chosen & (team > 0)
    return EcosystemKpis(
        since=since,
        closed_deals=int(chosen.sum()),
        by_team_size=by_size,
        sourced=_split(with_partners & sourced, won, size),
        influenced=_split(with_partners & ~sourced, won, size),
        top_pairs=_pairs(book, in_window, pairs),
    )


def track_record(book: DealBook, partner_id: str) -> TrackRecord:
    """The partner's closed deals: wins, sourced against influenced deals and revenue, deal velocity, and
    the partners it shared the most won deals with (ties by fewer joint deals, then id)."""
    seats = book.seats
    mine = book.partner_seats.get(partner_id, np.zeros(0, dtype=np.int64))
    won = seats[_WON].to_numpy(dtype=bool)[mine]
    sourced = seats[s.SOURCED].to_numpy(dtype=bool)[mine]
    size = seats[_SIZE].to_numpy(dtype=float)[mine]
    wins = int(won.sum())
    # Plain arrays, not a pandas group-by: every profile read pays this (11.7 -> 0.9 ms, test home).
    _, positions = segments(book.deal_offsets, seats[_DEAL].to_numpy()[mine])
    mates = seats[s.PARTNER_ID].to_numpy()[positions]
    others = mates != partner_id
    ids, which = np.unique(mates[others], return_inverse=True)
    joint_deals = np.bincount(which, minlength=len(ids))
    joint_wins = np.bincount(
        which, weights=seats[_WON].to_numpy(dtype=float)[positions][others], minlength=len(ids)
    )
    order = [i for i in np.lexsort((ids, joint_deals, -joint_wins)).tolist() if joint_wins[i] > 0]
    return TrackRecord(
        deals=len(mine),
        wins=wins,
        win_rate=_rate(wins, len(mine)),
        sourced=_split(sourced, won, size),
        influenced=_split(~sourced, won, size),
        median_days_to_close=_median(seats[_DAYS].to_numpy(dtype=float)[mine][won]),
        wins_most_with=[
            CoSeller(
                partner_id=str(ids[i]),
                name=book.name(str(ids[i])),
                joint_wins=int(joint_wins[i]),
                joint_deals=int(joint_deals[i]),
            )
            for i in order[:WINS_MOST_WITH]
        ],
    )


def certification_statuses(rows: Sequence[Mapping[str, Any]], today: date) -> list[CertificationStatus]:
    """Certification rows (contract columns) with whether each is valid today (the catalog's rule)."""
    if not rows:
        return []
    issued = np.asarray([to_day(r[s.ISSUED_AT]) if r.get(s.ISSUED_AT) else -np.inf for r in rows])
    expires = np.asarray([to_day(r[s.EXPIRES_AT]) if r.get(s.EXPIRES_AT) else np.inf for r in rows])
    valid = certificate_valid(issued, expires, to_day(today))
    return [
        CertificationStatus(
            certification=str(r[s.CERTIFICATION]),
            level=r.get(s.LEVEL) or None,
            issued_at=r.get(s.ISSUED_AT),
            expires_at=r.get(s.EXPIRES_AT),
            valid_today=bool(ok),
        )
        for r, ok in zip(rows, valid.tolist(), strict=True)
    ]


class DealBooks:
    """The store's deal book, rebuilt after the store's deals change (or DEAL_BOOK_MAX_AGE_SECONDS), and
    its KPIs per `since`, so neither is recomputed per request.

    Each call checks the store's deal logs (features.store_reads.deal_mark: two index seeks); a rebuild
    loads the whole store once, under a lock, so concurrent callers wait for one load instead of each
    running its own.
    """

    def __init__(
        self,
        store: Store,
        max_age_seconds: float = DEAL_BOOK_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.max_age_seconds = max_age_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._mark: tuple[int, ...] | None = None
        self._built_at = 0.0
        self._book: DealBook | None = None
        self._kpis: dict[tuple[date | None, int], EcosystemKpis] = {}

    def current(self) -> DealBook:
        mark = deal_mark(self.store)
        with self._lock:
            fresh = self.clock() - self._built_at < self.max_age_seconds
            if self._book is None or mark != self._mark or not fresh:
                self._book = deal_book(self.store.load_tables())
                self._mark, self._built_at = mark, self.clock()
                self._kpis = {}
            return self._book

    def kpis(self, since: date | None = None, pairs: int = DEFAULT_PAIRS) -> EcosystemKpis:
        book = self.current()
        with self._lock:
            cached = self._kpis.get((since, pairs)) if self._book is book else None
        if cached is not None:
            return cached
        answer = ecosystem_kpis(book, since, pairs)
        with self._lock:
            if self._book is book:
                if len(self._kpis) >= MAX_CACHED_KPIS:
                    self._kpis.pop(next(iter(self._kpis)))
                self._kpis[(since, pairs)] = answer
        return answer
