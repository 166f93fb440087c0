"""The partner catalog: cleaned partner and certification rows as arrays, and the rules every layer shares.

One place for the facts the rules of engagement and the features both read: availability (active, below
capacity), tier, region and industry coverage, and which certificates are valid on a date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import chain
from typing import Any, Final

import numpy as np
import pandas as pd

from features import schema as s
from features.history import to_day
from features.slots import segments, splice_segments

PARTNER_COLUMNS: Final = s.COLUMNS[s.PARTNERS]
CERTIFICATION_COLUMNS: Final = s.COLUMNS[s.CERTIFICATIONS]
# Certification levels are free text in the contract; the usual ladder reads as growing depth, anything
# else (or no level) as the entry level. Multiplies a certification's association with a need.
CERT_LEVEL_WEIGHTS: Final = {"associate": 1.0, "professional": 1.5, "expert": 2.0}
REGION: Final = "region"
INDUSTRY: Final = "industry"


def clean_partners(partners: pd.DataFrame) -> pd.DataFrame:
    """Contract columns only, sorted by id, defaults filled, list cells as lists, descriptions as text."""
    frame = partners.reindex(columns=list(PARTNER_COLUMNS)).sort_values(s.PARTNER_ID, kind="stable")
    frame = frame.reset_index(drop=True)
    frame[s.PARTNER_ID] = frame[s.PARTNER_ID].astype(str)
    frame[s.TIER] = frame[s.TIER].fillna(s.DEFAULT_TIER)
    frame[s.STATUS] = frame[s.STATUS].fillna(s.DEFAULT_PARTNER_STATUS)
    for column in s.LIST_COLUMNS[s.PARTNERS]:
        # `tolist()` first: iterating an Arrow-backed column element by element cost ~1 s at 100k partners.
        values = frame[column].tolist()
        frame[column] = [list(v) if isinstance(v, list | tuple | np.ndarray) else [] for v in values]
    frame[s.DESCRIPTION] = frame[s.DESCRIPTION].where(frame[s.DESCRIPTION].notna(), "")
    # As timestamps, whatever the caller passed (the API's dates): a partner change writes its row into
    # the datetime column of the snapshot's frame.
    for column in s.DATE_COLUMNS[s.PARTNERS]:
        frame[column] = pd.to_datetime(frame[column])
    return frame


def filled_psat(values: pd.Series) -> np.ndarray:
    """PSAT per partner; unsurveyed partners read as the median partner: no evidence either way."""
    psat = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    return np.where(np.isnan(psat), np.nanmedian(psat) if np.isfinite(psat).any() else 0.0, psat)


def _patched(values: np.ndarray, rows: np.ndarray, new: np.ndarray) -> np.ndarray:
    """A copy of `values` with `rows` set to `new`; rows from the old length on are appended, in order."""
    appended = rows >= len(values)
    out = np.concatenate([values, new[appended]])
    out[rows[~appended]] = new[~appended]
    return out


def _recoded(codes: np.ndarray, remap: np.ndarray | None) -> np.ndarray:
    """Phrase codes under a grown vocabulary (`remap`: old code -> new code); unknown (-1) stays -1."""
    if remap is None:
        return codes
    return np.where(codes >= 0, remap[np.maximum(codes, 0)], codes)


def clean_certifications(certifications: pd.DataFrame) -> pd.DataFrame:
    """Contract columns only, dates parsed, sorted by (partner, certification)."""
    frame = certifications.reindex(columns=list(CERTIFICATION_COLUMNS))
    for column in s.DATE_COLUMNS[s.CERTIFICATIONS]:
        frame[column] = pd.to_datetime(frame[column])
    frame[s.PARTNER_ID] = frame[s.PARTNER_ID].astype(str)
    return frame.sort_values([s.PARTNER_ID, s.CERTIFICATION], kind="stable").reset_index(drop=True)


def certificate_valid(issued: np.ndarray, expires: np.ndarray, day: int) -> np.ndarray:
    """The one validity rule: issued on or before the day and not yet expired on it (unknown dates are
    stored as -inf issued / +inf expiry, so they never restrict)."""
    return (issued <= day) & (expires > day)


def at_capacity(capacity: np.ndarray, open_engagements: np.ndarray) -> np.ndarray:
    """The one capacity rule: a known capacity that the open engagements reach (unknown = unlimited)."""
    return ~np.isnan(capacity) & (open_engagements >= capacity)


def phrase_codes(phrases: pd.Index, values: Sequence[str]) -> np.ndarray:
    """Position of each value in the phrase vocabulary; -1 for an unknown phrase."""
    return np.asarray(phrases.get_indexer(pd.Index(list(values), dtype=object)), dtype=np.int64)


@dataclass(frozen=True)
class PartnerCatalog:
    """Every partner of a build (active or not) as arrays in row order; never mutated after `build`.

    Skill tags and certifications are CSR lists (offsets per row) of phrase codes into the build's
    phrase vocabulary; `described` lists the phrases each partner's own description mentions.
    """

    partners: pd.DataFrame
    certifications: pd.DataFrame
    ids: np.ndarray
    row_of: dict[str, int]
    role: np.ndarray
    active: np.ndarray
    tier: np.ndarray
    capacity: np.ndarray
    psat: np.ndarray
    regions: list[frozenset[str]]
    industries: list[frozenset[str]]
    history_code: np.ndarray
    tag_offsets: np.ndarray
    tag_codes: np.ndarray
    cert_offsets: np.ndarray
    cert_codes: np.ndarray
    cert_names: np.ndarray
    cert_issued: np.ndarray
    cert_expires: np.ndarray
    cert_level: np.ndarray
    described_offsets: np.ndarray
    described_codes: np.ndarray
    # "Which partners cover region/industry X": a pure function of the catalog, memoised per value.
    _coverage: dict[tuple[str, str], np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    _profiles: dict[int, dict[str, Any]] = field(default_factory=dict, repr=False, compare=False)
    # Contract columns as object arrays, built on the first profile: reading one row of them is ~10x
    # cheaper than a DataFrame look-up (229 vs ~20 µs a profile at 100k partners).
    _columns: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        partners: pd.DataFrame,
        certifications: pd.DataFrame,
        *,
        phrases: pd.Index,
        history_code: np.ndarray,
        described: tuple[np.ndarray, np.ndarray],
    ) -> PartnerCatalog:
        """Arrays of cleaned partner and certification frames; `described` is the CSR of description
        mentions and `history_code` each partner's code in the deal history, both in row order."""
        ids = partners[s.PARTNER_ID].to_numpy(dtype=object)
        row_of = {pid: i for i, pid in enumerate(ids)}
        skills = partners[s.SKILLS]
        lengths = np.fromiter(map(len, skills), dtype=np.int64, count=len(skills))
        cert_rows = np.asarray([row_of.get(p, -1) for p in certifications[s.PARTNER_ID]], dtype=np.int64)
        keep = cert_rows >= 0
        order = np.argsort(cert_rows[keep], kind="stable")
        issued = certifications[s.ISSUED_AT].to_numpy(dtype="datetime64[D]")[keep][order]
        expires = certifications[s.EXPIRES_AT].to_numpy(dtype="datetime64[D]")[keep][order]
        names = certifications[s.CERTIFICATION].astype(str).to_numpy(dtype=object)[keep][order]
        levels = certifications[s.LEVEL].astype(str).str.lower().to_numpy(dtype=object)[keep][order]
        counts = np.bincount(cert_rows[keep], minlength=len(ids))
        return cls(
            partners=partners,
            certifications=certifications,
            ids=ids,
            row_of=row_of,
            role=partners[s.PARTNER_TYPE].to_numpy(dtype=object),
            active=(partners[s.STATUS] == s.DEFAULT_PARTNER_STATUS).to_numpy(copy=True),
            tier=partners[s.TIER].map(s.TIER_RANK).fillna(0).to_numpy(dtype=np.float64),
            capacity=pd.to_numeric(partners[s.CAPACITY], errors="coerce").to_numpy(dtype=np.float64),
            psat=filled_psat(partners[s.PSAT]),
            regions=[frozenset(v) for v in partners[s.REGIONS]],
            industries=[frozenset(v) for v in partners[s.INDUSTRIES]],
            history_code=history_code,
            tag_offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            tag_codes=phrase_codes(phrases, list(map(str, chain.from_iterable(skills)))),
            cert_offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            cert_codes=phrase_codes(phrases, names.tolist()),
            cert_names=names,
            # Unknown dates never restrict: issued at -inf, expiring at +inf.
            cert_issued=np.where(np.isnat(issued), -np.inf, issued.astype(np.int64).astype(np.float64)),
            cert_expires=np.where(np.isnat(expires), np.inf, expires.astype(np.int64).astype(np.float64)),
            cert_level=np.asarray([CERT_LEVEL_WEIGHTS.get(v, 1.0) for v in levels], dtype=np.float64),
            described_offsets=described[0],
            described_codes=described[1],
        )

    def __len__(self) -> int:
        return len(self.ids)

    # -- a partner change ------------------------------------------------------------------------------
    def with_rows(
        self,
        partners: pd.DataFrame,
        certifications: pd.DataFrame,
        rows: np.ndarray,
        part: PartnerCatalog,
        remap: np.ndarray | None = None,
    ) -> PartnerCatalog:
        """This catalog with `rows` (ascending; those from `len(self)` on appended) replaced by the rows of
        `part`, the catalog of those rows alone; `partners` and `certifications` are the frames after the
        change, `remap` renumbers this catalog's phrase codes when the phrase vocabulary grew.

        Equal to `build` over the new frames, at the cost of copying arrays: untouched rows are not
        recomputed (rebuilding every row took ~1 s of a partner write at 100k partners).
        """
        appended = part.ids[rows >= len(self)]
        row_of = self.row_of
        if len(appended):
            row_of = {**row_of, **{str(pid): len(self) + i for i, pid in enumerate(appended)}}
        regions, industries = list(self.regions), list(self.industries)
        for i, row in enumerate(rows.tolist()):
            for sets, new in ((regions, part.regions), (industries, part.industries)):
                if row < len(sets):
                    sets[row] = new[i]
                else:
                    sets.append(new[i])
        tag_offsets, tags = splice_segments(
            self.tag_offsets,
            {"code": _recoded(self.tag_codes, remap)},
            rows,
            part.tag_offsets,
            {"code": part.tag_codes},
        )
        cert_offsets, certs = splice_segments(
            self.cert_offsets, self._cert_fields(remap), rows, part.cert_offsets, part._cert_fields(None)
        )
        described_offsets, described = splice_segments(
            self.described_offsets,
            {"code": _recoded(self.described_codes, remap)},
            rows,
            part.described_offsets,
            {"code": part.described_codes},
        )
        catalog = PartnerCatalog(
            partners=partners,
            certifications=certifications,
            ids=_patched(self.ids, rows, part.ids),
            row_of=row_of,
            role=_patched(self.role, rows, part.role),
            active=_patched(self.active, rows, part.active),
            tier=_patched(self.tier, rows, part.tier),
            capacity=_patched(self.capacity, rows, part.capacity),
            # The fill of unsurveyed partners is the median of all: one change can move it.
            psat=filled_psat(partners[s.PSAT]),
            regions=regions,
            industries=industries,
            history_code=_patched(self.history_code, rows, part.history_code),
            tag_offsets=tag_offsets,
            tag_codes=tags["code"],
            cert_offsets=cert_offsets,
            cert_codes=certs["code"],
            cert_names=certs["name"],
            cert_issued=certs["issued"],
            cert_expires=certs["expires"],
            cert_level=certs["level"],
            described_offsets=described_offsets,
            described_codes=described["code"],
        )
        catalog._keep_memos(self, rows)
        return catalog

    def _cert_fields(self, remap: np.ndarray | None) -> dict[str, np.ndarray]:
        return {
            "code": _recoded(self.cert_codes, remap),
            "name": self.cert_names,
            "issued": self.cert_issued,
            "expires": self.cert_expires,
            "level": self.cert_level,
        }

    def _keep_memos(self, previous: PartnerCatalog, rows: np.ndarray) -> None:
        """Take over `previous`'s memos for the rows that did not change: recomputing a coverage mask is a
        Python pass over every partner, which the first request after each write would otherwise pay."""
        for (kind, value), mask in previous._coverage.items():
            sets = self.regions if kind == REGION else self.industries
            fresh = np.fromiter(
                (value in sets[row] for row in rows.tolist()), dtype=np.float64, count=len(rows)
            )
            self._coverage[(kind, value)] = _patched(mask, rows, fresh)
        # Profiles are read from the frame's values: only kept when no column changed its type.
        if not previous.partners.dtypes.equals(self.partners.dtypes):
            return
        self._profiles.update(previous._profiles)  # one C-level copy, then the changed rows dropped
        for row in rows.tolist():
            self._profiles.pop(row, None)
        if previous._columns:
            part = self.partners.iloc[rows]
            self._columns.update(
                {c: _patched(v, rows, part[c].to_numpy(dtype=object)) for c, v in previous._columns.items()}
            )

    # -- lookups -------------------------------------------------------------------------------------
    def rows(self, partner_ids: Sequence[str]) -> np.ndarray:
        """Rows of known partner ids (a KeyError names the first unknown one)."""
        return np.asarray([self.row_of[pid] for pid in partner_ids], dtype=np.int64)

    def role_of(self, partner_id: str) -> str | None:
        row = self.row_of.get(partner_id)
        return None if row is None else str(self.role[row])

    def role_rows(self, role: str) -> np.ndarray:
        """Active partners of a role, ascending rows."""
        return np.flatnonzero((self.role == role) & self.active)

    def profile(self, partner_id: str) -> dict[str, Any]:
        """The partner's contract fields as plain Python values (a KeyError for an unknown id)."""
        row = self.row_of[partner_id]
        # Profiles are read per team member on every response: build each once (a pandas row ~0.3 ms).
        cached = self._profiles.get(row)
        if cached is None:
            cached = self._profile(row)
            self._profiles[row] = cached
        return {k: list(v) if isinstance(v, list) else v for k, v in cached.items()}

    def _profile(self, row: int) -> dict[str, Any]:
        if not self._columns:
            self._columns.update({c: self.partners[c].to_numpy(dtype=object) for c in PARTNER_COLUMNS})
        out: dict[str, Any] = {}
        for column in PARTNER_COLUMNS:
            value: Any = self._columns[column][row]
            if column in s.LIST_COLUMNS[s.PARTNERS]:
                out[column] = [str(v) for v in value]
            elif value is None or (not isinstance(value, str) and pd.isna(value)):
                out[column] = None
            elif isinstance(value, pd.Timestamp):
                out[column] = value.date()
            elif isinstance(value, np.generic):
                out[column] = value.item()
            else:
                out[column] = value
        out["role"] = out[s.PARTNER_TYPE]
        return out

    # -- the shared rules, vectorised over rows -------------------------------------------------------
    def covers(self, kind: str, rows: np.ndarray, value: str | None) -> np.ndarray:
        """1.0 where the partner covers the region / industry `value`, else 0.0 (all 0 without a value)."""
        if value is None:
            return np.zeros(len(rows))
        mask = self._coverage.get((kind, value))
        if mask is None:
            sets = self.regions if kind == REGION else self.industries
            mask = np.fromiter((value in members for members in sets), dtype=np.float64, count=len(sets))
            self._coverage[(kind, value)] = mask
        return mask[rows]

    def below_tier(self, rows: np.ndarray, tier: str) -> np.ndarray:
        return self.tier[rows] < s.TIER_RANK[tier]

    def available(self, rows: np.ndarray, open_engagements: np.ndarray) -> np.ndarray:
        """Active and below capacity, given each row's open engagements on the date."""
        if len(rows) == 0:
            return np.zeros(0, dtype=bool)
        return np.asarray(self.active[rows] & ~at_capacity(self.capacity[rows], open_engagements))

    def certificates(self, rows: np.ndarray, as_of: date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Certificates of `rows`: (owner position into rows, certificate position, valid on `as_of`)."""
        owner, positions = segments(self.cert_offsets, rows)
        valid = certificate_valid(self.cert_issued[positions], self.cert_expires[positions], to_day(as_of))
        return owner, positions, valid

    def valid_certificate_names(self, partner_id: str, as_of: date) -> set[str]:
        """Names of the partner's certificates valid on `as_of` (the required-certification rule)."""
        row = self.row_of.get(partner_id)
        if row is None:
            return set()
        _, positions, valid = self.certificates(np.asarray([row], dtype=np.int64), as_of)
        return {str(name) for name in self.cert_names[positions][valid]}
