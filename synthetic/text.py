"""Text of a synthetic ecosystem: partner names, tags and profiles, opportunity tags and descriptions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from synthetic.latent import MAX_NEEDS, N_SKILLS, OpportunityLatent, PartnerLatent
from synthetic.vocabulary import (
    CUSTOMER_PHRASINGS,
    INDUSTRIES,
    INDUSTRY_LABELS,
    NAME_CORES,
    NAME_PREFIXES,
    REGION_LABELS,
    ROLE_NAME_SUFFIXES,
    ROLE_NOUNS,
    SKILLS,
)

TAG_SHARE = 0.7  # opportunities that carry skill tags; the rest only have a description
_FLUFF = np.array([
    "", " Trusted by enterprise customers for over a decade.", " Fixed-price delivery and 24x7 support.",
    " A growing team of certified consultants.", " Known for fast time to value.",
], dtype=object)


def _table(rows: list[tuple[str, ...]]) -> np.ndarray:
    """(len(rows), widest) object array; short rows repeat their first entries so any column is valid."""
    width = max(len(r) for r in rows)
    return np.array([[r[j % len(r)] for j in range(width)] for r in rows], dtype=object)


PARTNER_TAGS = _table([s.partner_tags for s in SKILLS])
OPP_TAGS = _table([s.opp_tags for s in SKILLS])
OPP_PHRASES = _table([s.opp_phrases for s in SKILLS])
CUSTOMER_TERMS = _table([CUSTOMER_PHRASINGS[s.key] for s in SKILLS])


@dataclass(frozen=True)
class CustomerWording:
    """Rewords a share `distance` of customer-side skill mentions in phrasings partners never use.

    Its own random stream, so a distance of 0 leaves every other draw, and the text, as it was.
    """

    rng: np.random.Generator
    distance: float = 0.0

    def reword(self, skills: np.ndarray, values: np.ndarray) -> np.ndarray:
        """`values` (wordings of `skills`, same shape) with a share replaced by far customer phrasings."""
        if self.distance <= 0 or skills.size == 0:
            return values
        far = self.rng.random(skills.shape) < self.distance
        variant = self.rng.integers(0, CUSTOMER_TERMS.shape[1], size=skills.shape)
        return np.where(far, CUSTOMER_TERMS[skills, variant], values)


def lists_from_pairs(rows: np.ndarray, values: np.ndarray, n: int) -> list[list[str]]:
    """Python lists per row 0..n-1 from (row, value) pairs already sorted by row."""
    offsets = np.searchsorted(rows, np.arange(n + 1)).astype(np.int64)
    array = pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), pa.array(values, pa.string()))
    return array.to_pylist()


def _choice(rng: np.random.Generator, options: np.ndarray, size: int) -> np.ndarray:
    return options[rng.integers(0, len(options), size=size)]


def partner_names(rng: np.random.Generator, partners: PartnerLatent) -> np.ndarray:
    n = partners.role.size
    suffixes = np.array([list(v) for v in ROLE_NAME_SUFFIXES.values()], dtype=object)
    prefix = _choice(rng, np.array(NAME_PREFIXES, dtype=object), n)
    core = _choice(rng, np.array(NAME_CORES, dtype=object), n)
    suffix = suffixes[partners.role, rng.integers(0, suffixes.shape[1], size=n)]
    return prefix + core + " " + suffix


def partner_tags(rng: np.random.Generator, claims: np.ndarray) -> list[list[str]]:
    """Claimed skills as tags, each partner picking its own wording among the skill's partner tags."""
    rows, skills = np.nonzero(claims)
    variant = rng.integers(0, PARTNER_TAGS.shape[1], size=rows.size)
    return lists_from_pairs(rows, PARTNER_TAGS[skills, variant], claims.shape[0])


def partner_descriptions(
    rng: np.random.Generator, partners: PartnerLatent, claims: np.ndarray, names: np.ndarray
) -> np.ndarray:
    """Profiles naming the two strongest skills; an over-claimer advertises a skill it lacks instead."""
    n = partners.role.size
    order = np.argsort(-partners.proficiency, axis=1, kind="stable")
    first, second = order[:, 0], order[:, 1]
    lacking = claims & (partners.proficiency < 0.35)
    has_fake = partners.over_claimer & lacking.any(axis=1)
    fake = np.argmax(lacking * rng.random((n, N_SKILLS)), axis=1)
    second = np.where(has_fake, fake, second)
    width = PARTNER_TAGS.shape[1]
    phrase_a = PARTNER_TAGS[first, rng.integers(0, width, size=n)]
    phrase_b = PARTNER_TAGS[second, rng.integers(0, width, size=n)]
    nouns = np.array([list(v) for v in ROLE_NOUNS.values()], dtype=object)
    noun = nouns[partners.role, rng.integers(0, nouns.shape[1], size=n)]
    home = np.argmax(partners.region_cover, axis=1)
    industry = np.array([i.replace("-", " ") for i in INDUSTRIES], dtype=object)[
        np.argmax(partners.industry_expertise, axis=1)
    ]
    industry_part = np.where(
        rng.random(n) < 0.5, ", serving " + industry + " clients", ", with deep " + industry + " experience"
    )
    return (
        names + " is " + noun + " based in " + np.array(REGION_LABELS, dtype=object)[home]
        + ", known for " + phrase_a + " and " + phrase_b + industry_part + "." + _choice(rng, _FLUFF, n)
    )


def opportunity_tags(
    rng: np.random.Generator, opps: OpportunityLatent, wording: CustomerWording | None = None
) -> tuple[list[list[str]], np.ndarray]:
    """Buyer-side skill tags for ~70% of opportunities, and the (m, MAX_NEEDS) mask of needs they reveal.

    Tagged opportunities sometimes drop their last need and sometimes add an unrelated tag; `wording`
    replaces a share of the tags by far customer phrasings.
    """
    m = opps.region.size
    valid = opps.needs >= 0
    tagged = rng.random(m) < TAG_SHARE
    n_needs = valid.sum(axis=1)
    drop_last = (n_needs > 1) & (rng.random(m) < 0.2)
    visible = valid & tagged[:, None]
    visible[np.arange(m), np.maximum(n_needs - 1, 0)] &= ~drop_last
    noise = tagged & (rng.random(m) < 0.15)
    noise_skill = rng.integers(0, N_SKILLS, size=m)
    # Up to MAX_NEEDS + 1 tag slots per opportunity, flattened row-major so rows stay sorted.
    slot_skill = np.concatenate([np.maximum(opps.needs, 0), noise_skill[:, None]], axis=1)
    slot_on = np.concatenate([visible, noise[:, None]], axis=1)
    variant = rng.integers(0, OPP_TAGS.shape[1], size=slot_skill.shape)
    rows, cols = np.nonzero(slot_on)
    skills = slot_skill[rows, cols]
    values = OPP_TAGS[skills, variant[rows, cols]]
    if wording is not None:
        values = wording.reword(skills, values)
    return lists_from_pairs(rows, values, m), visible


def opportunity_descriptions(
    rng: np.random.Generator,
    opps: OpportunityLatent,
    deal_size: np.ndarray,
    wording: CustomerWording | None = None,
) -> np.ndarray:
    """Buyer-side prose for every opportunity, worded differently from the partner tags."""
    m = opps.region.size
    width = OPP_PHRASES.shape[1]
    skills = np.maximum(opps.needs, 0)
    phrases = OPP_PHRASES[skills, rng.integers(0, width, size=(m, MAX_NEEDS))]
    if wording is not None:
        phrases = wording.reword(skills, phrases)
    valid = opps.needs >= 0
    needs_text = (
        phrases[:, 0]
        + np.where(valid[:, 1], ", together with " + phrases[:, 1], "")
        + np.where(valid[:, 2], " and " + phrases[:, 2], "")
    )
    label = np.array(INDUSTRY_LABELS, dtype=object)[opps.industry]
    region = np.array(REGION_LABELS, dtype=object)[opps.region]
    template = rng.integers(0, 3, size=m)
    opener = np.where(
        template == 0,
        "A " + label + " in " + region + " is planning ",
        np.where(
            template == 1,
            "Customer is a " + label + " (" + region + ") that wants help with ",
            "Prospect: " + label + ", " + region + ". Scope: ",
        ),
    )
    thousands = np.round(np.nan_to_num(deal_size, nan=0.0) / 1000.0).astype(np.int64)
    budget_k = thousands.astype(str).astype(object)
    budget = np.where(np.isnan(deal_size) | (rng.random(m) < 0.5), "", " Budget around $" + budget_k + "k.")
    return opener + needs_text + "." + budget
