"""Text associations learned from deal history: which skill tags staffed deals whose needs and words say X."""

from __future__ import annotations

import io
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, reduce
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from features import schema as s
from features.parallel import IN_PROCESS, Mapper, pieces
from features.records import EcosystemTables

# A need/phrase pair must co-occur on at least this many deal seats before its association counts.
ASSOCIATION_MIN_COUNT: Final = 3
# An opportunity without skill tags gets the tags its description words point to (see `infer_needs`):
# those scoring at least this share of the best tag's score, at most INFERRED_NEEDS of them.
INFERRED_SHARE: Final = 0.5
INFERRED_NEEDS: Final = 4
_WORD = re.compile(r"[a-z0-9][a-z0-9\-/+.]*[a-z0-9]")


def description_words(text: str) -> list[str]:
    """Distinct lower-case words of a description, in first-seen order."""
    return list(dict.fromkeys(_WORD.findall(text.lower())))


@dataclass(frozen=True)
class TagAssociation:
    """Positive PMI between buyer-side skill tags and partner-side phrases (skill tags, certification names).

    Learned from who was staffed on which deal, never from outcomes: routing desks staff partners whose
    skills fit the request, so co-occurrence aligns two vocabularies that word the same skill differently
    ("aws rehost" vs "aws cloud migration"), which a general-purpose embedder may not. Row i of `pmi` is
    `needs[i]`, column j is `phrases[j]`; both sorted.
    """

    needs: np.ndarray
    phrases: np.ndarray
    pmi: np.ndarray
    # Description words vs the skill tags of the same opportunity (text only): row i is words[i].
    words: np.ndarray = field(default_factory=lambda: np.zeros(0, np.str_))
    word_pmi: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))

    @classmethod
    def empty(cls) -> TagAssociation:
        return cls(np.zeros(0, np.str_), np.zeros(0, np.str_), np.zeros((0, 0), np.float32))

    # Label -> row lookups, built on first use: a request resolves a handful of labels, and building a
    # pandas Index per call cost ~3 ms per request.
    @cached_property
    def _word_row(self) -> dict[str, int]:
        return {str(w): i for i, w in enumerate(self.words)}

    @cached_property
    def _need_row(self) -> dict[str, int]:
        return {str(n): i for i, n in enumerate(self.needs)}

    @cached_property
    def _phrase_column(self) -> dict[str, int]:
        return {str(p): i for i, p in enumerate(self.phrases)}

    def infer_needs(self, description: str | None) -> list[str]:
        """Skill tags the description's words are most associated with (for opportunities without tags)."""
        if not description or self.word_pmi.size == 0:
            return []
        lookup = self._word_row
        rows = [r for r in (lookup.get(w) for w in description_words(description)) if r is not None]
        if not rows:
            return []
        score = self.word_pmi[rows].sum(axis=0)
        best = float(score.max())
        if best <= 0:
            return []
        order = np.argsort(-score, kind="stable")[:INFERRED_NEEDS]
        return [str(self.needs[i]) for i in order if score[i] >= INFERRED_SHARE * best]

    def columns(self, phrases: Sequence[str]) -> np.ndarray:
        """Column of each phrase in `pmi`, -1 for phrases never seen on a deal (map once, reuse often)."""
        lookup = self._phrase_column
        return np.asarray([lookup.get(str(p), -1) for p in phrases], dtype=np.int64)

    @classmethod
    def build(cls, tables: EcosystemTables, mapper: Mapper = IN_PROCESS) -> TagAssociation:
        """Tag associations (skill tags x partner phrases) and word associations (description words x
        skill tags) from the opportunities and seats in `tables`."""
        return cls.submit(tables, mapper)()

    @classmethod
    def submit(cls, tables: EcosystemTables, mapper: Mapper = IN_PROCESS) -> Callable[[], TagAssociation]:
        """`build`, started: the description words (most of the work at a million deal rows) go to `mapper`
        in ranges of opportunities now; the returned call joins the tags here and waits for the words."""
        opps = tables.opportunities[[s.OPPORTUNITY_ID, s.REQUIRED_SKILLS]].explode(s.REQUIRED_SKILLS)
        opps = opps.dropna().rename(columns={s.REQUIRED_SKILLS: "need"})
        if opps.empty:
            return cls.empty
        # Every tag any opportunity used: a tag never staffed still gets description associations.
        needs = np.asarray(sorted(opps["need"].astype(str).unique()), dtype=np.str_)
        word_associations = _submit_word_associations(tables.opportunities, needs, mapper)
        return lambda: cls._joined(tables, opps, needs, word_associations)

    @classmethod
    def _joined(
        cls,
        tables: EcosystemTables,
        opps: pd.DataFrame,
        needs: np.ndarray,
        word_associations: Callable[[], tuple[np.ndarray, np.ndarray]],
    ) -> TagAssociation:
        seats = tables.deal_partners[[s.OPPORTUNITY_ID, s.PARTNER_ID]]
        own = (
            pd.concat(
                [
                    tables.partners[[s.PARTNER_ID, s.SKILLS]]
                    .explode(s.SKILLS)
                    .rename(columns={s.SKILLS: "phrase"}),
                    tables.certifications[[s.PARTNER_ID, s.CERTIFICATION]].rename(
                        columns={s.CERTIFICATION: "phrase"}
                    ),
                ]
            )
            .dropna()
            .drop_duplicates()
        )
        phrase_seats = seats.merge(own, on=s.PARTNER_ID)[[s.OPPORTUNITY_ID, "phrase"]]
        phrases = np.asarray(sorted(phrase_seats["phrase"].astype(str).unique()), dtype=np.str_)
        # Integer codes keep the (deal, need) x (deal, phrase) join small on a million deal rows.
        need_code = pd.Index(needs).get_indexer(pd.Index(opps["need"].astype(str)))
        phrase_code = pd.Index(phrases).get_indexer(pd.Index(phrase_seats["phrase"].astype(str)))
        deal_index = pd.Index(pd.unique(tables.opportunities[s.OPPORTUNITY_ID]))
        left = pd.DataFrame(
            {"deal": deal_index.get_indexer(pd.Index(opps[s.OPPORTUNITY_ID])), "need": need_code}
        )
        right = pd.DataFrame(
            {"deal": deal_index.get_indexer(pd.Index(phrase_seats[s.OPPORTUNITY_ID])), "phrase": phrase_code}
        )
        pairs = left.merge(right[right["deal"] >= 0], on="deal")
        n_phrases = max(len(phrases), 1)
        keys = pairs["need"].to_numpy() * n_phrases + pairs["phrase"].to_numpy()
        joint = np.bincount(keys, minlength=len(needs) * n_phrases).reshape(len(needs), n_phrases)
        joint = joint[:, : len(phrases)]
        # Marginals over deal seats: seats on deals needing each tag, seats whose partner has each phrase.
        seat_deal = deal_index.get_indexer(pd.Index(seats[s.OPPORTUNITY_ID]))
        seats_per_deal = np.bincount(seat_deal[seat_deal >= 0], minlength=len(deal_index))
        need_seats = np.bincount(need_code, weights=seats_per_deal[left["deal"]], minlength=len(needs))
        phrase_count = np.bincount(phrase_code, minlength=len(phrases)).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.log(joint * len(seats) / np.outer(need_seats, phrase_count))
        pmi = np.where(joint >= ASSOCIATION_MIN_COUNT, np.maximum(values, 0.0), 0.0).astype(np.float32)
        words, word_pmi = word_associations()
        return cls(needs, phrases, pmi, words, word_pmi)

    def rows(self, needs: Sequence[str], phrases: Sequence[str] | np.ndarray) -> np.ndarray:
        """(len(needs), len(phrases)) associations; 0 for needs or phrases never seen on a deal.

        `phrases` may be labels or the int array `columns(labels)` returned.
        """
        n_columns = len(phrases)
        out = np.zeros((len(needs), n_columns), np.float32)
        if self.pmi.size == 0 or not len(needs):
            return out
        lookup = self._need_row
        r = np.asarray([lookup.get(str(n), -1) for n in needs], dtype=np.int64)
        if isinstance(phrases, np.ndarray) and phrases.dtype.kind == "i":
            c = phrases
        else:
            c = self.columns([str(p) for p in phrases])
        sub = self.pmi[np.maximum(r, 0)][:, np.maximum(c, 0)]
        return np.where((r >= 0)[:, None] & (c >= 0)[None, :], sub, 0.0).astype(np.float32)

    def save(self, path: Path) -> None:
        with path.open("wb") as fh:
            np.savez(
                fh,
                needs=self.needs,
                phrases=self.phrases,
                pmi=self.pmi,
                words=self.words,
                word_pmi=self.word_pmi,
            )

    @classmethod
    def load(cls, path: Path) -> TagAssociation:
        with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as data:
            return cls(data["needs"], data["phrases"], data["pmi"], data["words"], data["word_pmi"])


# Opportunity ranges per mapper slot for the description words: the per-deal text work parallelises.
WORD_PIECES_PER_SLOT: Final = 4
# At most this many opportunities per range, on a cluster or not: a range's words are exploded into one
# row per (deal, word) of Python strings, 1.4 GB at once for 420k opportunities; a range's counts are small.
WORD_PIECE_MAX_OPPORTUNITIES: Final = 50_000


@dataclass(frozen=True)
class WordCounts:
    """Counts behind the word associations of some opportunities; the counts of disjoint sets add up."""

    joint: pd.Series  # (word, need) -> deals whose description has the word and whose tags the need
    words: pd.Series  # word -> deals whose description has it
    needs: pd.Series  # need -> deals tagged with it
    deals: int  # deals with at least one skill tag

    def __add__(self, other: WordCounts) -> WordCounts:
        def add(a: pd.Series, b: pd.Series) -> pd.Series:
            return a.add(b, fill_value=0).astype(np.int64)

        return WordCounts(
            add(self.joint, other.joint),
            add(self.words, other.words),
            add(self.needs, other.needs),
            self.deals + other.deals,
        )


def word_counts(frame: pd.DataFrame) -> WordCounts:
    """Word, tag and word x tag deal counts of opportunities that carry skill tags."""
    words = (
        pd.DataFrame(
            {
                s.OPPORTUNITY_ID: frame[s.OPPORTUNITY_ID].to_numpy(),
                "word": [
                    description_words(str(d)) if isinstance(d, str) else [] for d in frame[s.DESCRIPTION]
                ],
            }
        )
        .explode("word")
        .dropna()
    )
    tags = frame[[s.OPPORTUNITY_ID, s.REQUIRED_SKILLS]].explode(s.REQUIRED_SKILLS).dropna()
    tags = tags.rename(columns={s.REQUIRED_SKILLS: "need"}).drop_duplicates()
    joint = words.merge(tags, on=s.OPPORTUNITY_ID).groupby(["word", "need"]).size()
    return WordCounts(joint, words.groupby("word").size(), tags.groupby("need").size(), len(frame))


def _submit_word_associations(
    opportunities: pd.DataFrame, needs: np.ndarray, mapper: Mapper
) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    """(words, (words, needs) positive PMI) between description words and the same deal's skill tags,
    counted over ranges of opportunities by `mapper`; the returned call waits for the counts."""
    frame = opportunities[[s.OPPORTUNITY_ID, s.DESCRIPTION, s.REQUIRED_SKILLS]]
    has_tags = frame[s.REQUIRED_SKILLS].map(lambda v: isinstance(v, list | tuple | np.ndarray) and len(v) > 0)
    frame = frame[has_tags.astype(bool)]
    if frame.empty or len(needs) == 0:
        return lambda: (np.zeros(0, np.str_), np.zeros((0, len(needs)), np.float32))
    count = max(pieces(mapper, WORD_PIECES_PER_SLOT), -(-len(frame) // WORD_PIECE_MAX_OPPORTUNITIES))
    bounds = np.linspace(0, len(frame), min(count, len(frame)) + 1).astype(int)
    gather = mapper.map(word_counts, [frame.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)])
    return lambda: _word_pmi(reduce(operator.add, gather()), needs)


def _word_pmi(counts: WordCounts, needs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    joint = counts.joint[counts.joint >= ASSOCIATION_MIN_COUNT]
    vocabulary = np.asarray(sorted(joint.index.get_level_values(0).unique().astype(str)), dtype=np.str_)
    out = np.zeros((len(vocabulary), len(needs)), np.float32)
    if len(joint):
        w = joint.index.get_level_values(0).astype(str)
        n = joint.index.get_level_values(1).astype(str)
        expected = counts.words.reindex(w).to_numpy(dtype=np.float64)
        expected *= counts.needs.reindex(n).to_numpy(dtype=np.float64)
        values = np.log(joint.to_numpy(dtype=np.float64) * counts.deals / expected)
        cols = pd.Index(needs).get_indexer(n)
        keep = cols >= 0
        out[pd.Index(vocabulary).get_indexer(w)[keep], cols[keep]] = np.maximum(values[keep], 0.0)
    return vocabulary, out
