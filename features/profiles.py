"""The texts that get embedded: one profile per partner and one text per opportunity."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from features import schema as s
from features.records import OpportunityQuery


def _as_list(value: object) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v is not None and str(v).strip()]
    return []


def _join(values: Iterable[str]) -> str:
    return ", ".join(values)


def partner_profile_texts(partners: pd.DataFrame, certifications: pd.DataFrame) -> pd.Series:
    """Skills, every certification, industries and description, as one text per partner.

    Profile text is today's snapshot (an export has no history of profiles); listing every certification
    keeps it independent of any date. Dated validity is a separate feature.
    """
    certs = certifications
    cert_names = (
        certs.sort_values([s.PARTNER_ID, s.CERTIFICATION]).groupby(s.PARTNER_ID)[s.CERTIFICATION].agg(list)
        if not certs.empty
        else pd.Series(dtype=object)
    )
    texts: list[str] = []
    for pid, skills, industries, description in zip(
        partners[s.PARTNER_ID],
        partners[s.SKILLS],
        partners[s.INDUSTRIES],
        partners[s.DESCRIPTION],
        strict=True,
    ):
        parts = []
        if skill_list := _as_list(skills):
            parts.append(f"Skills: {_join(skill_list)}.")
        if cert_list := _as_list(cert_names.get(pid)):
            parts.append(f"Certifications: {_join(cert_list)}.")
        if industry_list := _as_list(industries):
            parts.append(f"Industries: {_join(industry_list)}.")
        if isinstance(description, str) and description.strip():
            parts.append(description.strip())
        texts.append(" ".join(parts))
    return pd.Series(texts, index=pd.Index(partners[s.PARTNER_ID], name=s.PARTNER_ID), dtype=object)


def opportunity_text(opp: OpportunityQuery) -> str:
    """What the customer needs, in words: description, required skills and industry."""
    parts = []
    if opp.description.strip():
        parts.append(opp.description.strip())
    if opp.required_skills:
        parts.append(f"Required skills: {_join(opp.required_skills)}.")
    if opp.customer_industry:
        parts.append(f"Industry: {opp.customer_industry}.")
    return " ".join(parts)
