"""Per-partner lists (skill tags, certifications) padded into dense slots for exact one-pass reductions."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

# Entries per partner kept in dense slots; the rest of a longer list (a large SI can hold hundreds of
# certifications) stays flat in an overflow, so a few heavy partners do not widen every partner's slots.
# At 100k partners (most hold 2-5 tags) 4 scored faster than 6, 8 or 16: padding costs like an entry.
SLOT_WIDTH = 4
EMPTY_CODE = -1  # marks a slot past a partner's last entry; reads the padding row appended to a table


def segments(offsets: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, position) of every element of each row's slice of a CSR layout, without a Python loop."""
    starts = offsets[rows]
    lengths = offsets[rows + 1] - starts
    total = int(lengths.sum())
    owner = np.repeat(np.arange(len(rows)), lengths)
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(rows) else np.zeros(0, np.int64)
    positions = np.repeat(starts - first, lengths) + np.arange(total)
    return owner, positions


def splice_segments(
    offsets: np.ndarray,
    values: Mapping[str, np.ndarray],
    rows: np.ndarray,
    new_offsets: np.ndarray,
    new_values: Mapping[str, np.ndarray],
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A CSR layout with the segments of `rows` (ascending) replaced by the segments of the new layout, one
    per row of `rows`; rows from the old row count on are appended (they must be the last ones, in order).

    Copies the untouched segments in one concatenation per field: a partner change costs a memcpy of the
    arrays, not a pass over every partner in Python.
    """
    n_old = len(offsets) - 1
    n = max(n_old, int(rows[-1]) + 1) if len(rows) else n_old
    lengths = np.zeros(n, dtype=np.int64)
    lengths[:n_old] = np.diff(offsets)
    lengths[rows] = np.diff(new_offsets)
    pieces: dict[str, list[np.ndarray]] = {name: [] for name in values}
    done = 0  # old entries up to here are copied or replaced
    for i, row in enumerate(rows.tolist()):
        start = int(offsets[min(row, n_old)])
        for name, old in values.items():
            pieces[name].append(old[done:start])
            pieces[name].append(new_values[name][new_offsets[i] : new_offsets[i + 1]])
        done = int(offsets[row + 1]) if row < n_old else start
    out = {name: np.concatenate([*parts, values[name][done:]]) for name, parts in pieces.items()}
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), out


def runs(owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start of each run of equal (ascending) owners, and the owner of each run."""
    if len(owners) == 0:
        return np.zeros(0, dtype=np.int64), owners
    starts = np.flatnonzero(np.concatenate([[True], owners[1:] != owners[:-1]])).astype(np.int64)
    return starts, owners[starts]


def best_first(rows: np.ndarray, scores: np.ndarray, first: int) -> Iterator[np.ndarray]:
    """`rows` by descending score, ties by row, in growing blocks (the first of at least `first` rows).

    Callers usually stop after the first block, so a partition finds it and only the rest that is asked
    for gets sorted.
    """
    if 0 < first < len(rows):
        threshold = np.partition(scores, len(scores) - first)[len(scores) - first]
        top = scores >= threshold
        head = np.flatnonzero(top)
        yield rows[head][np.lexsort((rows[head], -scores[head]))]
        rows, scores = rows[~top], scores[~top]
    ranked = rows[np.lexsort((rows, -scores))]
    start, size = 0, 4 * max(first, 1)
    while start < len(ranked):
        yield ranked[start : start + size]
        start, size = start + size, 4 * size


def padded(table: np.ndarray, fill: float) -> np.ndarray:
    """`table` (codes, columns) with one more row of `fill`, the row EMPTY_CODE reads."""
    return np.vstack([table, np.full((1, table.shape[1]), fill, dtype=table.dtype)])


@dataclass(frozen=True)
class SlotLists:
    """Entries of n partners: `slots[name][j, i]` is field `name` of partner i's j-th entry.

    `slots["code"]` is EMPTY_CODE past a partner's last entry (other fields hold `fill` there). Entries past
    the slot width sit in `overflow[name]`, with their partner in `overflow_owner` (ascending).
    """

    n: int
    slots: dict[str, np.ndarray]
    overflow: dict[str, np.ndarray]
    overflow_owner: np.ndarray

    @classmethod
    def build(
        cls,
        owner: np.ndarray,
        fields: dict[str, np.ndarray],
        n: int,
        fill: dict[str, float],
        width: int | None = None,
    ) -> SlotLists:
        """From flat entries sorted by `owner` (0..n-1); `fields` must include "code"."""
        counts = np.bincount(owner, minlength=n)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        rank = np.arange(len(owner)) - first[owner]
        used = min(int(counts.max(initial=0)), SLOT_WIDTH if width is None else width)
        dense = rank < used
        slots = {}
        for name, values in fields.items():
            empty = EMPTY_CODE if name == "code" else fill[name]
            grid = np.full((used, n), empty, dtype=values.dtype)
            grid[rank[dense], owner[dense]] = values[dense]
            slots[name] = grid
        return cls(n, slots, {k: v[~dense] for k, v in fields.items()}, owner[~dense])

    @property
    def width(self) -> int:
        return int(self.slots["code"].shape[0])

    def subset(self, positions: np.ndarray) -> SlotLists:
        """The lists of partners `positions` (ascending), renumbered 0..len(positions)-1."""
        slots = {k: v[:, positions] for k, v in self.slots.items()}
        if len(self.overflow_owner) == 0:
            return SlotLists(len(positions), slots, self.overflow, self.overflow_owner)
        renumbered = np.full(self.n, -1, dtype=np.int64)
        renumbered[positions] = np.arange(len(positions))
        owner = renumbered[self.overflow_owner]
        kept = owner >= 0
        return SlotLists(len(positions), slots, {k: v[kept] for k, v in self.overflow.items()}, owner[kept])

    def recoded(self, codes: np.ndarray) -> SlotLists:
        """The same lists with every code `c` read as `codes[c]` (a grown phrase vocabulary renumbers)."""
        grid = self.slots["code"]
        slots = {**self.slots, "code": np.where(grid == EMPTY_CODE, EMPTY_CODE, codes[np.maximum(grid, 0)])}
        overflow = {**self.overflow, "code": codes[self.overflow["code"]]}
        return SlotLists(self.n, slots, overflow, self.overflow_owner)

    def merged(self, added: SlotLists, at: np.ndarray, fill: Mapping[str, float]) -> SlotLists:
        """These lists and `added`'s in one, `added`'s partners at positions `at` (ascending) of the result
        and this one's, in order, at the others: equal to `build` over the merged entries (same width)."""
        n = self.n + added.n
        mine = np.delete(np.arange(n, dtype=np.int64), at)
        width = max(self.width, added.width)
        slots = {}
        for name, grid in self.slots.items():
            empty = EMPTY_CODE if name == "code" else fill[name]
            merged = np.full((width, n), empty, dtype=grid.dtype)
            merged[: self.width, mine] = grid
            merged[: added.width, at] = added.slots[name]
            slots[name] = merged
        owner = np.concatenate([mine[self.overflow_owner], at[added.overflow_owner]])
        # Both parts list each partner's overflow in entry order; a stable sort by partner keeps it.
        order = np.argsort(owner, kind="stable")
        overflow = {k: np.concatenate([v, added.overflow[k]])[order] for k, v in self.overflow.items()}
        if not len(owner):
            # `build` makes the slots as wide as the longest list: a removed partner may have been it.
            used = int((slots["code"] != EMPTY_CODE).sum(axis=0).max(initial=0))
            slots = {k: v[:used] for k, v in slots.items()}
        return SlotLists(n, slots, overflow, owner[order])

    def max_of(self, dense: np.ndarray, flat: np.ndarray) -> np.ndarray:
        """(n, columns): per partner, the max of its entries' values; -inf for a partner without entries.

        `dense` (width, n, columns) holds the values of the slots, `flat` (overflow, columns) those of the
        overflow. Exact: the same as a max over each partner's whole list.
        """
        best = dense.max(axis=0) if self.width else np.full((self.n, flat.shape[1]), -np.inf)
        if len(self.overflow_owner):
            starts, owners = runs(self.overflow_owner)
            best[owners] = np.maximum(best[owners], np.maximum.reduceat(flat, starts))
        return best

    def sum_of(self, dense: np.ndarray, flat: np.ndarray) -> np.ndarray:
        """(n,): per partner, the sum of its entries' values (`dense` (width, n), `flat` (overflow,))."""
        total = dense.sum(axis=0) if self.width else np.zeros(self.n)
        if len(self.overflow_owner):
            starts, owners = runs(self.overflow_owner)
            total[owners] += np.add.reduceat(flat, starts)
        return total


def segment_max(owner: np.ndarray, values: np.ndarray, n: int, *, fill: float) -> np.ndarray:
    """Row-wise maximum of `values` per owner (owners ascending, as `segments` yields them); `fill` for
    owners with no values. `maximum.reduceat` over contiguous runs is far faster than `maximum.at`."""
    out = np.full((n, values.shape[1]), fill)
    if len(owner) == 0:
        return out
    starts = np.flatnonzero(np.concatenate([[True], owner[1:] != owner[:-1]]))
    out[owner[starts]] = np.maximum.reduceat(values, starts, axis=0)
    return out
