"""Point-in-time partner and partner-pair statistics from deal history (only facts closed before `as_of`)."""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import scipy.sparse as sp

from features import schema as s
from features.compatibility import Compatibility
from features.parallel import IN_PROCESS, Mapper
from features.records import EcosystemTables

logger = logging.getLogger(__name__)

# Output columns of `PartnerHistory.stats` / `pair_stats` (derived features, not contract columns).
DEALS: Final = "deals"
WINS: Final = "wins"
WIN_RATE: Final = "win_rate"
INDUSTRY_DEALS: Final = "industry_deals"
INDUSTRY_WINS: Final = "industry_wins"
INDUSTRY_WIN_RATE: Final = "industry_win_rate"
REGION_DEALS: Final = "region_deals"
REGION_WINS: Final = "region_wins"
REGION_WIN_RATE: Final = "region_win_rate"
MEDIAN_DAYS_TO_CLOSE: Final = "median_days_to_close"
SOURCED_DEALS: Final = "sourced_deals"
DAYS_SINCE_LAST_WIN: Final = "days_since_last_win"
OPEN_ENGAGEMENTS: Final = "open_engagements"
SKILL_DEALS: Final = "skill_deals"
SKILL_WINS: Final = "skill_wins"
SKILL_WIN_RATE: Final = "skill_win_rate"
INFLUENCED_DEALS: Final = "influenced_deals"
SOURCED_REVENUE: Final = "sourced_revenue"
INFLUENCED_REVENUE: Final = "influenced_revenue"
RECENCY_WIN_RATE: Final = "recency_win_rate"
MEAN_LOG_DEAL_SIZE: Final = "mean_log_deal_size"
WON_MEAN_LOG_DEAL_SIZE: Final = "won_mean_log_deal_size"
STATS_COLUMNS: Final = (
    DEALS,
    WINS,
    WIN_RATE,
    INDUSTRY_DEALS,
    INDUSTRY_WINS,
    INDUSTRY_WIN_RATE,
    REGION_DEALS,
    REGION_WINS,
    REGION_WIN_RATE,
    MEDIAN_DAYS_TO_CLOSE,
    SOURCED_DEALS,
    DAYS_SINCE_LAST_WIN,
    OPEN_ENGAGEMENTS,
    SKILL_DEALS,
    SKILL_WINS,
    SKILL_WIN_RATE,
    INFLUENCED_DEALS,
    SOURCED_REVENUE,
    INFLUENCED_REVENUE,
    RECENCY_WIN_RATE,
    MEAN_LOG_DEAL_SIZE,
    WON_MEAN_LOG_DEAL_SIZE,
)
JOINT_DEALS: Final = "joint_deals"
JOINT_WINS: Final = "joint_wins"
JOINT_WIN_RATE: Final = "joint_win_rate"
PAIR_COLUMNS: Final = (JOINT_DEALS, JOINT_WINS, JOINT_WIN_RATE)

# Beta prior: a partner with no history gets the base win rate; it takes ~PRIOR_STRENGTH deals to move away.
PRIOR_STRENGTH: Final = 4.0
DEFAULT_BASE_RATE: Final = 0.5
# Recency weighting: a deal closed this many days before `as_of` counts half as much as one closed today.
RECENCY_HALF_LIFE_DAYS: Final = 365.0
# exp(ln2 * (day - _RECENCY_ORIGIN) / half-life) stays far inside float64 for dates in 1900..2200.
_RECENCY_ORIGIN: Final = 20_000

# Events are found with one searchsorted over int64 keys `group * _DAY_SPAN + day + _DAY_OFFSET`.
_DAY_OFFSET: Final = 1 << 20
_DAY_SPAN: Final = 1 << 21
_WON: Final = "won_flag"
_SOURCED: Final = "sourced_flag"
_ONE: Final = "one"
_WON_SOURCED_SIZE: Final = "won_sourced_size"
_WON_INFLUENCED_SIZE: Final = "won_influenced_size"
_DECAY: Final = "decay"
_WON_DECAY: Final = "won_decay"
_SIZED: Final = "sized"
_LOG_SIZE: Final = "log_size"
_WON_SIZED: Final = "won_sized"
_WON_LOG_SIZE: Final = "won_log_size"
_MEDIAN_DAYS: Final = "running_median_days"
_LAST_WIN: Final = "running_last_win_day"


# A request converts the same date a dozen times and pd.Timestamp costs ~10 µs a call: memoise.
@lru_cache(maxsize=4096)
def to_day(value: date | pd.Timestamp | np.datetime64) -> int:
    """Days since 1970-01-01."""
    return int(np.datetime64(pd.Timestamp(value).date(), "D").astype(np.int64))


def _days(series: pd.Series) -> np.ndarray:
    return series.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)


def _decay_weights(days: np.ndarray) -> np.ndarray:
    """exp(ln2 * day / half-life) from a fixed origin: summed before `as_of`, then scaled by its inverse."""
    return np.exp(np.log(2.0) * (days.astype(np.float64) - _RECENCY_ORIGIN) / RECENCY_HALF_LIFE_DAYS)


def smoothed_rate(wins: np.ndarray, deals: np.ndarray, base_rate: float) -> np.ndarray:
    return (wins + PRIOR_STRENGTH * base_rate) / (deals + PRIOR_STRENGTH)


@dataclass(frozen=True)
class _Prefix:
    """Events sorted by (group, day) with prefix sums: totals before a day are two searchsorteds away."""

    keys: np.ndarray
    sums: dict[str, np.ndarray]  # each of length len(keys) + 1; sums[c][i] = total of the first i events
    running: dict[str, np.ndarray]  # per-group running values at each event (value after that event)

    @classmethod
    def build(
        cls,
        groups: np.ndarray,
        days: np.ndarray,
        values: Mapping[str, np.ndarray],
        running: Mapping[str, np.ndarray] | None = None,
    ) -> _Prefix:
        keys = groups.astype(np.int64) * _DAY_SPAN + days.astype(np.int64) + _DAY_OFFSET
        order = np.argsort(keys, kind="stable")
        sums = {
            name: np.concatenate([[0.0], np.cumsum(np.asarray(v, dtype=np.float64)[order])])
            for name, v in values.items()
        }
        sorted_keys = keys[order]
        sorted_groups = groups.astype(np.int64)[order]
        computed = {name: np.asarray(v, dtype=np.float64)[order] for name, v in (running or {}).items()}
        return cls(sorted_keys, sums, _running_values(sorted_groups, computed))

    def window(self, groups: np.ndarray, day: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions [start, stop) of each group's events strictly before `day`; group -1 is empty."""
        base = groups.astype(np.int64) * _DAY_SPAN
        start = np.searchsorted(self.keys, base, side="left")
        stop = np.searchsorted(self.keys, base + day + _DAY_OFFSET, side="left")
        empty = groups < 0
        return np.where(empty, 0, start), np.where(empty, 0, stop)

    def total(self, name: str, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
        column = self.sums[name]
        return column[stop] - column[start]

    def last(self, name: str, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
        """The group's running value after its last event before the day; NaN when it has none."""
        column = self.running[name]
        if len(column) == 0:
            return np.full(len(start), np.nan)
        values = column[np.maximum(stop - 1, 0)]
        return np.where(stop > start, values, np.nan)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        out = {f"{prefix}.keys": self.keys}
        out.update({f"{prefix}.sum.{k}": v for k, v in self.sums.items()})
        out.update({f"{prefix}.run.{k}": v for k, v in self.running.items()})
        return out

    @classmethod
    def from_arrays(cls, prefix: str, data: Mapping[str, np.ndarray]) -> _Prefix:
        sums = {
            k.removeprefix(f"{prefix}.sum."): v for k, v in data.items() if k.startswith(f"{prefix}.sum.")
        }
        running = {
            k.removeprefix(f"{prefix}.run."): v for k, v in data.items() if k.startswith(f"{prefix}.run.")
        }
        return cls(data[f"{prefix}.keys"], sums, running)


def _running_values(sorted_groups: np.ndarray, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-group running statistics over events already sorted by (group, day)."""
    out: dict[str, np.ndarray] = {}
    if not inputs:
        return out
    frame = pd.DataFrame(dict(inputs.items()))
    frame["group"] = sorted_groups
    grouped = frame.groupby("group", sort=False)
    if _MEDIAN_DAYS in inputs:
        median = grouped[_MEDIAN_DAYS].expanding().median().reset_index(level=0, drop=True)
        out[_MEDIAN_DAYS] = median.sort_index().to_numpy(dtype=np.float64)
    if _LAST_WIN in inputs:
        out[_LAST_WIN] = grouped[_LAST_WIN].ffill().to_numpy(dtype=np.float64)
    return out


def _codes(vocabulary: pd.Index, values: Sequence[str | None] | pd.Series) -> np.ndarray:
    return np.asarray(vocabulary.get_indexer(pd.Index(values, dtype=object)), dtype=np.int64)


class PartnerHistory:
    """Vectorised point-in-time deal statistics per partner, partner x industry/region, pair."""

    def __init__(
        self,
        partner_ids: np.ndarray,
        industries: np.ndarray,
        regions: np.ndarray,
        pair_keys: np.ndarray,
        prefixes: dict[str, _Prefix],
        skills: np.ndarray | None = None,
        compatibility: Compatibility | None = None,
    ) -> None:
        self.partner_ids = partner_ids
        # Learned pair compatibility over the same partner codes (features/compatibility.py).
        self.compatibility = compatibility or Compatibility.empty(len(partner_ids))
        self._met: sp.csr_matrix | None = None  # partner x partner "closed a deal together", built on use
        self.industries = industries
        self.regions = regions
        self.skills = skills if skills is not None else np.zeros(0, dtype=np.str_)
        self._skill_index = pd.Index(self.skills, dtype=object)
        self.pair_keys = pair_keys  # sorted int64 a * n_partners + b with code a < code b
        self._prefixes = prefixes
        self._partner_index = pd.Index(partner_ids, dtype=object)
        self._industry_index = pd.Index(industries, dtype=object)
        self._region_index = pd.Index(regions, dtype=object)

    # -- building -------------------------------------------------------------------------------
    @classmethod
    def build(cls, tables: EcosystemTables, mapper: Mapper = IN_PROCESS) -> PartnerHistory:
        """Every prefix index and the compatibility checkpoints; the checkpoints go to `mapper` first, so
        on a cluster they are fitted while this process builds the prefixes."""
        opps = tables.opportunities
        links = tables.deal_partners[[s.OPPORTUNITY_ID, s.PARTNER_ID, s.SOURCED]].copy()
        links[_SOURCED] = links[s.SOURCED].astype("boolean").fillna(False).astype(bool)
        # A partner playing two roles on one deal is still one engagement.
        links = links.groupby([s.OPPORTUNITY_ID, s.PARTNER_ID], as_index=False, sort=False)[[_SOURCED]].max()
        partner_ids = np.asarray(
            sorted(set(tables.partners[s.PARTNER_ID].astype(str)) | set(links[s.PARTNER_ID].astype(str))),
            dtype=np.str_,
        )
        industries = np.asarray(
            sorted(opps[s.CUSTOMER_INDUSTRY].dropna().astype(str).unique()), dtype=np.str_
        )
        regions = np.asarray(sorted(opps[s.REGION].dropna().astype(str).unique()), dtype=np.str_)
        partner_index = pd.Index(partner_ids, dtype=object)
        n_industries, n_regions = max(len(industries), 1), max(len(regions), 1)

        deals = links.merge(
            opps[
                [
                    s.OPPORTUNITY_ID,
                    s.CUSTOMER_INDUSTRY,
                    s.REGION,
                    s.DEAL_SIZE,
                    s.CREATED_AT,
                    s.CLOSED_AT,
                    s.OUTCOME,
                ]
            ],
            on=s.OPPORTUNITY_ID,
            how="inner",
        )
        deals["partner_code"] = _codes(partner_index, deals[s.PARTNER_ID])
        deals["industry_code"] = _codes(pd.Index(industries, dtype=object), deals[s.CUSTOMER_INDUSTRY])
        deals["region_code"] = _codes(pd.Index(regions, dtype=object), deals[s.REGION])
        prefixes: dict[str, _Prefix] = {}

        # Engagements: open at a day = created before it minus closed before it.
        created = deals[deals[s.CREATED_AT].notna()]
        created_days = _days(created[s.CREATED_AT])
        prefixes["created"] = _Prefix.build(
            created["partner_code"].to_numpy(), created_days, {_ONE: np.ones(len(created))}
        )
        ended = created[created[s.CLOSED_AT].notna()]
        ended_days = np.maximum(_days(ended[s.CLOSED_AT]), _days(ended[s.CREATED_AT]))
        prefixes["ended"] = _Prefix.build(
            ended["partner_code"].to_numpy(), ended_days, {_ONE: np.ones(len(ended))}
        )

        closed = deals[deals[s.OUTCOME].isin([s.WON, s.LOST]) & deals[s.CLOSED_AT].notna()]
        closed_days = _days(closed[s.CLOSED_AT])
        won = (closed[s.OUTCOME] == s.WON).to_numpy(dtype=np.float64)
        days_to_close = (closed_days - _days(closed[s.CREATED_AT].fillna(closed[s.CLOSED_AT]))).clip(min=0)
        codes = closed["partner_code"].to_numpy()
        counts = {_ONE: np.ones(len(closed)), _WON: won}
        sourced = closed[_SOURCED].to_numpy(dtype=np.float64)
        size = pd.to_numeric(closed[s.DEAL_SIZE], errors="coerce").to_numpy(dtype=np.float64)
        sized = np.isfinite(size) & (size >= 0)
        size = np.where(sized, size, 0.0)
        log_size = np.log1p(size)
        decay = _decay_weights(closed_days)
        compatibility = Compatibility.submit(
            deal=pd.factorize(closed[s.OPPORTUNITY_ID])[0].astype(np.int64),
            code=codes.astype(np.int64),
            won=won,
            close_day=closed_days.astype(np.int64),
            n_codes=len(partner_ids),
            mapper=mapper,
        )
        prefixes["partner"] = _Prefix.build(
            codes,
            closed_days,
            {
                **counts,
                _SOURCED: sourced,
                _WON_SOURCED_SIZE: won * sourced * size,
                _WON_INFLUENCED_SIZE: won * (1.0 - sourced) * size,
                _DECAY: decay,
                _WON_DECAY: won * decay,
                _SIZED: sized.astype(np.float64),
                _LOG_SIZE: log_size,
                _WON_SIZED: won * sized,
                _WON_LOG_SIZE: won * log_size,
            },
            running={
                _MEDIAN_DAYS: days_to_close.astype(np.float64),
                _LAST_WIN: np.where(won > 0, closed_days, np.nan),
            },
        )
        for name, column, groups in (
            ("industry", "industry_code", n_industries),
            ("region", "region_code", n_regions),
        ):
            known = closed[column].to_numpy() >= 0
            prefixes[name] = _Prefix.build(
                codes[known] * groups + closed[column].to_numpy()[known],
                closed_days[known],
                {k: v[known] for k, v in counts.items()},
            )

        # Partner x required skill: one event per (closed deal row, skill the opportunity required).
        skill_lists = opps.set_index(s.OPPORTUNITY_ID)[s.REQUIRED_SKILLS]
        exploded = skill_lists.explode().dropna().astype(str)
        skills = np.asarray(sorted(exploded.unique()), dtype=np.str_)
        per_opp = pd.DataFrame(
            {
                s.OPPORTUNITY_ID: exploded.index,
                "skill_code": _codes(pd.Index(skills, dtype=object), exploded),
            }
        )
        skill_rows = pd.DataFrame(
            {s.OPPORTUNITY_ID: closed[s.OPPORTUNITY_ID].to_numpy(), "row": np.arange(len(closed))}
        ).merge(per_opp, on=s.OPPORTUNITY_ID, how="inner")
        row = skill_rows["row"].to_numpy()
        prefixes["skill"] = _Prefix.build(
            codes[row] * max(len(skills), 1) + skill_rows["skill_code"].to_numpy(),
            closed_days[row],
            {k: v[row] for k, v in counts.items()},
        )

        # Base rate over opportunities (not partner rows), so big teams don't weigh more.
        closed_opps = opps[opps[s.OUTCOME].isin([s.WON, s.LOST]) & opps[s.CLOSED_AT].notna()]
        prefixes["base"] = _Prefix.build(
            np.zeros(len(closed_opps), dtype=np.int64),
            _days(closed_opps[s.CLOSED_AT]),
            {
                _ONE: np.ones(len(closed_opps)),
                _WON: (closed_opps[s.OUTCOME] == s.WON).to_numpy(dtype=np.float64),
            },
        )

        pairs = closed[[s.OPPORTUNITY_ID, "partner_code"]].assign(day=closed_days, won=won)
        joined = pairs.merge(
            pairs[[s.OPPORTUNITY_ID, "partner_code"]], on=s.OPPORTUNITY_ID, suffixes=("", "_b")
        )
        joined = joined[joined["partner_code"] < joined["partner_code_b"]]
        raw_keys = joined["partner_code"].to_numpy(np.int64) * len(partner_ids) + joined[
            "partner_code_b"
        ].to_numpy(np.int64)
        pair_keys, pair_codes = np.unique(raw_keys, return_inverse=True)
        prefixes["pair"] = _Prefix.build(
            pair_codes.astype(np.int64),
            joined["day"].to_numpy(),
            {_ONE: np.ones(len(joined)), _WON: joined["won"].to_numpy(dtype=np.float64)},
        )
        logger.info(
            "partner history: %d partners, %d closed deal rows, %d partner pairs",
            len(partner_ids),
            len(closed),
            len(pair_keys),
        )
        return cls(
            partner_ids, industries, regions, pair_keys.astype(np.int64), prefixes, skills, compatibility()
        )

    # -- queries -----------------------------------------------------------------------------------
    def codes(self, partner_ids: Sequence[str]) -> np.ndarray:
        """Internal partner codes (-1 for partners without any history row)."""
        return _codes(self._partner_index, list(partner_ids))

    def base_rate(self, as_of: date) -> float:
        base = self._prefixes["base"]
        start, stop = base.window(np.zeros(1, dtype=np.int64), to_day(as_of))
        deals = base.total(_ONE, start, stop)[0]
        wins = base.total(_WON, start, stop)[0]
        return float(wins / deals) if deals > 0 else DEFAULT_BASE_RATE

    def stats_arrays(
        self,
        codes: np.ndarray,
        as_of: date,
        *,
        industry: str | None,
        region: str | None,
        skills: Sequence[str] = (),
    ) -> dict[str, np.ndarray]:
        """`stats` as plain arrays over partner codes: the fast path the featurizer uses."""
        day = to_day(as_of)
        p0 = self.base_rate(as_of)
        partner = self._prefixes["partner"]
        start, stop = partner.window(codes, day)
        deals = partner.total(_ONE, start, stop)
        wins = partner.total(_WON, start, stop)
        last_win = partner.last(_LAST_WIN, start, stop)
        out = {
            DEALS: deals,
            WINS: wins,
            WIN_RATE: smoothed_rate(wins, deals, p0),
            MEDIAN_DAYS_TO_CLOSE: partner.last(_MEDIAN_DAYS, start, stop),
            SOURCED_DEALS: partner.total(_SOURCED, start, stop),
            DAYS_SINCE_LAST_WIN: day - last_win,
        }
        out[INFLUENCED_DEALS] = deals - out[SOURCED_DEALS]
        out[SOURCED_REVENUE] = partner.total(_WON_SOURCED_SIZE, start, stop)
        out[INFLUENCED_REVENUE] = partner.total(_WON_INFLUENCED_SIZE, start, stop)
        scale = 1.0 / _decay_weights(np.asarray([day]))[0]
        weight = partner.total(_DECAY, start, stop) * scale
        out[RECENCY_WIN_RATE] = smoothed_rate(partner.total(_WON_DECAY, start, stop) * scale, weight, p0)
        sized, won_sized = partner.total(_SIZED, start, stop), partner.total(_WON_SIZED, start, stop)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[MEAN_LOG_DEAL_SIZE] = np.where(
                sized > 0, partner.total(_LOG_SIZE, start, stop) / sized, np.nan
            )
            out[WON_MEAN_LOG_DEAL_SIZE] = np.where(
                won_sized > 0, partner.total(_WON_LOG_SIZE, start, stop) / won_sized, np.nan
            )
        out.update(self._skill_record(codes, day, skills, p0))
        for name, vocabulary, value, cols in (
            ("industry", self._industry_index, industry, (INDUSTRY_DEALS, INDUSTRY_WINS, INDUSTRY_WIN_RATE)),
            ("region", self._region_index, region, (REGION_DEALS, REGION_WINS, REGION_WIN_RATE)),
        ):
            code = vocabulary.get_indexer([value])[0] if value is not None else -1
            groups = np.where((codes >= 0) & (code >= 0), codes * max(len(vocabulary), 1) + code, -1)
            g_start, g_stop = self._prefixes[name].window(groups, day)
            g_deals = self._prefixes[name].total(_ONE, g_start, g_stop)
            g_wins = self._prefixes[name].total(_WON, g_start, g_stop)
            out.update({cols[0]: g_deals, cols[1]: g_wins, cols[2]: smoothed_rate(g_wins, g_deals, p0)})
        out[OPEN_ENGAGEMENTS] = self.open_engagements(codes, as_of)
        return out

    def _skill_record(
        self, codes: np.ndarray, day: int, skills: Sequence[str], p0: float
    ) -> dict[str, np.ndarray]:
        """Deals and wins over the required skills (summed) and the smoothed rate averaged over skills."""
        deals, wins, rates = np.zeros(len(codes)), np.zeros(len(codes)), np.zeros(len(codes))
        skill_codes = self._skill_index.get_indexer(pd.Index(list(skills), dtype=object)) if skills else []
        prefix = self._prefixes.get("skill")
        for code in skill_codes:
            if code < 0 or prefix is None:
                s_deals = s_wins = np.zeros(len(codes))
            else:
                groups = np.where(codes >= 0, codes * max(len(self.skills), 1) + code, -1)
                g_start, g_stop = prefix.window(groups, day)
                s_deals, s_wins = prefix.total(_ONE, g_start, g_stop), prefix.total(_WON, g_start, g_stop)
            deals, wins = deals + s_deals, wins + s_wins
            rates += smoothed_rate(s_wins, s_deals, p0)
        rate = rates / len(skill_codes) if len(skill_codes) else np.full(len(codes), p0)
        return {SKILL_DEALS: deals, SKILL_WINS: wins, SKILL_WIN_RATE: rate}

    def open_engagements(self, codes: np.ndarray, as_of: date) -> np.ndarray:
        """Deals created before `as_of` and not closed before it, per partner code."""
        day = to_day(as_of)
        created, ended = self._prefixes["created"], self._prefixes["ended"]
        c_start, c_stop = created.window(codes, day)
        e_start, e_stop = ended.window(codes, day)
        return created.total(_ONE, c_start, c_stop) - ended.total(_ONE, e_start, e_stop)

    def stats(
        self,
        partner_ids: Sequence[str],
        as_of: date,
        *,
        industry: str | None,
        region: str | None,
        skills: Sequence[str] = (),
    ) -> pd.DataFrame:
        """One row per partner id: deal counts, smoothed win rates, velocity, recency and load as of `as_of`.

        Only deals with closed_at < as_of count; `median_days_to_close` / `days_since_last_win` and the
        deal-size means are NaN without closed deals / wins. Open engagements: created before `as_of` and
        not closed before it. Skill columns cover deals that required any of `skills` (rate: mean over
        skills); revenue is the deal size of won deals, split by whether the partner sourced them; the
        recency rate weighs each deal by 2^(-age / RECENCY_HALF_LIFE_DAYS).
        """
        arrays = self.stats_arrays(
            self.codes(partner_ids), as_of, industry=industry, region=region, skills=skills
        )
        frame = pd.DataFrame(
            {c: arrays[c] for c in STATS_COLUMNS}, index=pd.Index(list(partner_ids), name=s.PARTNER_ID)
        )
        return frame

    def pair_arrays(self, codes_a: np.ndarray, codes_b: np.ndarray, as_of: date) -> dict[str, np.ndarray]:
        low, high = np.minimum(codes_a, codes_b), np.maximum(codes_a, codes_b)
        keys = low * len(self.partner_ids) + high
        pos = np.searchsorted(self.pair_keys, keys)
        pos_clipped = np.minimum(pos, max(len(self.pair_keys) - 1, 0))
        found = (low >= 0) & (low != high) & (len(self.pair_keys) > 0)
        if len(self.pair_keys):
            found &= self.pair_keys[pos_clipped] == keys
        groups = np.where(found, pos_clipped, -1)
        prefix = self._prefixes["pair"]
        start, stop = prefix.window(groups, to_day(as_of))
        deals = prefix.total(_ONE, start, stop)
        wins = prefix.total(_WON, start, stop)
        return {
            JOINT_DEALS: deals,
            JOINT_WINS: wins,
            JOINT_WIN_RATE: smoothed_rate(wins, deals, self.base_rate(as_of)),
        }

    def partners_met(self, code: int) -> np.ndarray:
        """Codes of partners that shared a closed deal with `code` at any date (callers filter by date)."""
        if self._met is None:
            n = len(self.partner_ids)
            lo, hi = self.pair_keys // max(n, 1), self.pair_keys % max(n, 1)
            self._met = sp.csr_matrix(
                (np.ones(2 * lo.size, np.int8), (np.concatenate([lo, hi]), np.concatenate([hi, lo]))),
                shape=(n, n),
            )
        if code < 0:
            return np.zeros(0, np.int64)
        return self._met.indices[self._met.indptr[code] : self._met.indptr[code + 1]].astype(np.int64)

    def pair_stats(self, pairs: Sequence[tuple[str, str]], as_of: date) -> pd.DataFrame:
        """Deals two partners closed together before `as_of`: count, wins and smoothed joint win rate."""
        a = self.codes([p[0] for p in pairs])
        b = self.codes([p[1] for p in pairs])
        arrays = self.pair_arrays(a, b, as_of)
        index = pd.MultiIndex.from_tuples(list(pairs), names=["partner_a", "partner_b"]) if pairs else None
        return pd.DataFrame({c: arrays[c] for c in PAIR_COLUMNS}, index=index)

    # -- persistence -------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {
            "partner_ids": self.partner_ids,
            "industries": self.industries,
            "regions": self.regions,
            "skills": self.skills,
            "pair_keys": self.pair_keys,
        }
        for name, prefix in self._prefixes.items():
            arrays.update(prefix.arrays(name))
        arrays.update(self.compatibility.arrays())
        with path.open("wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path) -> PartnerHistory:
        with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        names = {k.split(".", 1)[0] for k in arrays if "." in k}
        prefixes = {name: _Prefix.from_arrays(name, arrays) for name in names}
        return cls(
            arrays["partner_ids"],
            arrays["industries"],
            arrays["regions"],
            arrays["pair_keys"],
            prefixes,
            arrays.get("skills"),
            Compatibility.from_arrays(arrays, len(arrays["partner_ids"])),
        )
