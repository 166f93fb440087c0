"""Assembles a synthetic ecosystem (contract tables + ground truth) from a seed, and writes it to disk."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from features import schema as s
from features.records import EcosystemTables
from synthetic import history, latent, signals, text
from synthetic.export import ExportFormat, write_tables
from synthetic.scenario import DEFAULT_SCENARIO, Scenario, win_model
from synthetic.truth import GroundTruth
from synthetic.vocabulary import CERT_LEVELS, INDUSTRIES, REGIONS, SKILLS

log = logging.getLogger(__name__)

DEFAULT_AS_OF = date(2025, 12, 31)  # fixed so a seed alone decides the output
# Streams of scenario knobs come last: spawning more children leaves the earlier ones, and so today's
# output at the default scenario, unchanged.
_STREAMS = ("affinity", "partners", "synergy", "signals", "certs", "opps", "tags", "dates", "routing",
            "outcomes", "cycles", "sourcing", "names", "descriptions", "missing",
            "claimers", "camps", "scale", "bids", "wording")


@dataclass(frozen=True)
class SyntheticEcosystem:
    """The four contract tables and the hidden truth that produced their outcomes."""

    tables: EcosystemTables
    truth: GroundTruth
    as_of: date


def _ids(prefix: str, n: int, width: int) -> np.ndarray:
    digits = pd.Series(np.arange(1, n + 1)).astype(str).str.zfill(width)
    return (prefix + digits).to_numpy(dtype=object)


def _dates(days: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    values = days.astype("datetime64[D]").astype("datetime64[ns]")
    if missing is not None:
        values[missing] = np.datetime64("NaT")
    return pd.Series(values)


def _lists_of(mask: np.ndarray, names: tuple[str, ...]) -> list[list[str]]:
    rows, cols = np.nonzero(mask)
    return text.lists_from_pairs(rows, np.array(names, dtype=object)[cols], mask.shape[0])


def generate_ecosystem(
    n_partners: int,
    n_opportunities: int,
    seed: int,
    years: int = 4,
    as_of: date = DEFAULT_AS_OF,
    scenario: Scenario = DEFAULT_SCENARIO,
) -> SyntheticEcosystem:
    """A deterministic (by seed) ecosystem: partners, certifications, `years` of deals and their truth.

    `scenario` sets the knobs (synthetic/scenario.py); its own sizes are ignored here, the arguments
    decide. With bids (`scenario.bidders` > 0) `n_opportunities` counts bids, grouped into requests.
    """
    if n_partners < 3 or n_opportunities < 1 or years < 1:
        raise ValueError("need at least 3 partners, 1 opportunity and 1 year")
    sc = scenario
    # One independent stream per component, so changing one component does not reshuffle the others.
    children = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    rngs = {name: np.random.default_rng(child) for name, child in zip(_STREAMS, children, strict=True)}
    end_day = int(np.datetime64(as_of, "D").astype(np.int64))
    start_day = end_day - int(round(years * 365.25))
    roles = s.DEFAULT_ROLES

    affinity = latent.industry_skill_affinity(rngs["affinity"])
    partners = latent.sample_partners(rngs["partners"], n_partners, affinity, solo=sc.solo)
    partners = signals.more_over_claimers(rngs["claimers"], partners, sc.tag_noise)
    synergy, allies = latent.sample_synergy(rngs["synergy"], partners)
    sig = signals.partner_signals(rngs["signals"], partners, start_day, end_day, sc.tag_noise)
    certs = signals.certifications(rngs["certs"], partners, sig, end_day, sc.cert_signal)
    camp = latent.sample_camps(rngs["camps"], n_partners, sc.camps)
    scale = latent.partner_scale(rngs["scale"], sig.tier_rank, partners.popularity)
    # A PRM without tiers shows every partner as "registered", to the desk as much as to the export.
    tier_rank = np.zeros_like(sig.tier_rank) if sc.no_tiers_or_certs else sig.tier_rank
    if sc.no_tiers_or_certs:
        certs = signals.no_certifications()

    # Deals: one per opportunity, or one per customer request shared by that request's bids.
    bids = sc.bidders > 0
    request = (
        history.request_of_bids(rngs["bids"], n_opportunities, sc.bidders) if bids
        else np.arange(n_opportunities)
    )
    n_deals = int(request[-1]) + 1
    deals = latent.sample_opportunities(rngs["opps"], n_deals, affinity, noise=sc.noise)
    opps = latent.repeat_opportunities(deals, request) if bids else deals
    log.info("sampled latent state of %d partners and %d opportunities", n_partners, n_opportunities)

    partner_ids = _ids("P", n_partners, max(6, len(str(n_partners))))
    opportunity_ids = _ids("O", n_opportunities, max(7, len(str(n_opportunities))))
    model = win_model(sc)
    truth = GroundTruth(
        partner_ids=partner_ids, partner_role=partners.role, proficiency=partners.proficiency,
        execution=partners.execution, industry_expertise=partners.industry_expertise,
        region_cover=partners.region_cover, active=partners.active, synergy=synergy,
        opportunity_ids=opportunity_ids, opp_industry=opps.industry, opp_region=opps.region, needs=opps.needs,
        need_weights=opps.need_weights, log_size=opps.log_size, difficulty=opps.difficulty, model=model,
        roles=roles, camp=camp, scale=scale, opp_request=request if bids else np.zeros(0, np.int64),
    )

    wording = text.CustomerWording(rngs["wording"], sc.vocabulary_distance)
    deal_tags, deal_visible = text.opportunity_tags(rngs["tags"], deals, wording)
    required_skills = [list(deal_tags[r]) for r in request] if bids else deal_tags
    visible = deal_visible[request] if bids else deal_visible
    deal_created = history.created_days(rngs["dates"], n_deals, end_day, years)
    created = history.bid_days(rngs["bids"], deal_created, request, end_day) if bids else deal_created
    routing = history.RoutingSignals(tier_rank, sig.claims, sig.joined_day)
    policy = history.RoutingPolicy(
        bias=sc.routing_bias, camp=camp if sc.camps else None, lead_required=sc.solo or bids
    )
    members = history.route_teams(rngs["routing"], partners, allies, routing, opps, visible, created, policy)
    if bids:
        def reroute(rows: np.ndarray) -> np.ndarray:
            again = latent.repeat_opportunities(opps, rows)
            return history.route_teams(
                rngs["bids"], partners, allies, routing, again, visible[rows], created[rows], policy
            )

        members = history.distinct_bidders(members, request, reroute)
        # Competing bids: at most one wins; the customer decides every bid of a request on one day.
        won = history.pick_winners(rngs["bids"], truth.logits(np.arange(n_opportunities), members), request)
        deal_won = np.zeros(n_deals, bool)
        deal_won[request[won]] = True
        cycles = history.cycle_days(rngs["cycles"], deals.log_size, deal_won, model.reference_log_size)
        closed = (deal_created + cycles)[request]
        sourced, registered = history.bid_sourcing(members)
    else:
        p_win = truth.probabilities(np.arange(n_opportunities), members)
        won = rngs["outcomes"].random(n_opportunities) < p_win
        closed = created + history.cycle_days(rngs["cycles"], opps.log_size, won, model.reference_log_size)
        sourced, registered = history.sourcing(rngs["sourcing"], members)
    is_open = closed > end_day
    outcome = np.where(is_open, s.OPEN, np.where(won, s.WON, s.LOST)).astype(object)
    log.info("routed %d historical teams", n_opportunities)

    names = text.partner_names(rngs["names"], partners)
    miss = rngs["missing"]
    deal_size = np.round(np.exp(deals.log_size), 2)
    deal_size[miss.random(n_deals) < 0.02] = np.nan
    deal_size = deal_size[request] if bids else deal_size
    # Partner profiles draw from the description stream before opportunities do: keep that order.
    partner_descriptions = text.partner_descriptions(rngs["descriptions"], partners, sig.claims, names)
    opp_descriptions = text.opportunity_descriptions(rngs["descriptions"], opps, deal_size, wording)

    partners_df = pd.DataFrame({
        s.PARTNER_ID: partner_ids,
        s.NAME: names,
        s.PARTNER_TYPE: np.array(roles, dtype=object)[partners.role],
        s.TIER: np.array(s.TIERS, dtype=object)[tier_rank],
        s.REGIONS: _lists_of(partners.region_cover, REGIONS),
        s.INDUSTRIES: _lists_of(sig.listed_industries, INDUSTRIES),
        s.SKILLS: text.partner_tags(rngs["tags"], sig.claims),
        s.DESCRIPTION: partner_descriptions,
        s.CAPACITY: pd.array(sig.capacity, dtype="Int64"),
        s.PSAT: sig.psat,
        s.JOINED_AT: _dates(sig.joined_day),
        s.STATUS: np.where(partners.active, "active", "inactive").astype(object),
    })
    certifications_df = pd.DataFrame({
        s.PARTNER_ID: partner_ids[certs.partner],
        s.CERTIFICATION: np.array([k.certification for k in SKILLS], dtype=object)[certs.skill],
        s.LEVEL: np.array(CERT_LEVELS, dtype=object)[certs.level],
        s.ISSUED_AT: _dates(certs.issued_day),
        s.EXPIRES_AT: _dates(certs.expires_day, certs.expires_day < 0),
    })
    opportunities_df = pd.DataFrame({
        s.OPPORTUNITY_ID: opportunity_ids,
        s.CUSTOMER_ID: _ids("C", int(opps.customer.max()) + 1, 6)[opps.customer],
        s.CUSTOMER_INDUSTRY: np.array(INDUSTRIES, dtype=object)[opps.industry],
        s.REGION: np.array(REGIONS, dtype=object)[opps.region],
        s.DEAL_SIZE: deal_size,
        s.REQUIRED_SKILLS: required_skills,
        s.DESCRIPTION: opp_descriptions,
        s.CREATED_AT: _dates(created),
        s.CLOSED_AT: _dates(closed, is_open),
        s.OUTCOME: outcome,
        s.REGISTERED_PARTNER_ID: np.where(registered >= 0, partner_ids[np.maximum(registered, 0)], None),
    })
    if bids:  # optional contract column: exports without competing bids keep the old shape
        opportunities_df[s.REQUEST_ID] = _ids("R", n_deals, max(6, len(str(n_deals))))[request]
    opp_row, role_col = np.nonzero(members >= 0)
    deal_partners_df = pd.DataFrame({
        s.OPPORTUNITY_ID: opportunity_ids[opp_row],
        s.PARTNER_ID: partner_ids[members[opp_row, role_col]],
        s.ROLE: np.array(roles, dtype=object)[role_col],
        s.SOURCED: pd.array(sourced[opp_row, role_col], dtype="boolean"),
    })
    tables = EcosystemTables(
        partners=partners_df, certifications=certifications_df,
        opportunities=opportunities_df, deal_partners=deal_partners_df,
    )
    return SyntheticEcosystem(tables=tables, truth=truth, as_of=as_of)


def write(eco: SyntheticEcosystem, out_dir: Path, fmt: ExportFormat = "csv") -> list[Path]:
    """Write the export (`<table>.<fmt>`) and the hidden truth (`truth/`) under `out_dir`."""
    written = write_tables(eco.tables, Path(out_dir), fmt)
    eco.truth.save(Path(out_dir))
    return written
