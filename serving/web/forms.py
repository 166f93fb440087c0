"""The opportunity form: reading a posted form, and turning it into the API's request with field errors."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError
from starlette.requests import Request

from serving.schemas import MAX_TEXT, RecommendationRequest

# A posted form is small; anything larger is refused before parsing (the API's own limit is 1 MiB).
MAX_FORM_BYTES = 256 * 1024
MAX_FIELD_VALUES = 200
TIERS = ("silver", "gold", "platinum")
# "Name (P000123)" as the partner look-up fills it, or the bare id.
NAMED_ID = re.compile(r"^.*\(([^()]+)\)\s*$")

# Where a validation error of the API request is shown on the form.
FIELD_OF_LOCATION = {
    ("opportunity", "opportunity_id"): "opportunity_id",
    ("opportunity", "customer_industry"): "industry",
    ("opportunity", "region"): "region",
    ("opportunity", "deal_size"): "deal_size",
    ("opportunity", "required_skills"): "required_skills",
    ("opportunity", "description"): "description",
    ("opportunity", "registered_partner_id"): "registered_partner",
    ("k",): "k",
    ("roles",): "roles",
    ("constraints", "exclude"): "exclude",
    ("constraints", "min_tier"): "min_tier",
}


class FormTooLarge(ValueError):
    """The posted form exceeds MAX_FORM_BYTES."""


@dataclass(frozen=True)
class PostedForm:
    """A url-encoded form: every value of every field, in order."""

    values: dict[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        found = self.values.get(name)
        return found[0] if found else default

    def all(self, name: str) -> list[str]:
        return list(self.values.get(name, []))


async def read_form(request: Request) -> PostedForm:
    """Parsed without python-multipart: the page posts only url-encoded forms."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise FormTooLarge(f"the form exceeds {MAX_FORM_BYTES} bytes")
    values: dict[str, list[str]] = {}
    pairs = parse_qsl(
        body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FIELD_VALUES
    )
    for name, value in pairs:
        values.setdefault(name, []).append(value)
    return PostedForm(values)


def split_list(text: str) -> list[str]:
    """`a, b,, c` → ['a', 'b', 'c'] (commas or new lines), duplicates dropped."""
    parts = (part.strip() for part in re.split(r"[,\n]", text))
    return list(dict.fromkeys(part for part in parts if part))


def partner_id_of(text: str) -> str | None:
    """The id in `Name (ID)`, or the text itself when it has no such suffix; None when blank."""
    text = text.strip()
    if not text:
        return None
    found = NAMED_ID.match(text)
    return found.group(1).strip() if found else text


@dataclass
class OpportunityForm:
    """What the rep typed, kept to show again, and the errors to show next to each field."""

    opportunity_id: str = ""
    industry: str = ""
    region: str = ""
    deal_size: str = ""
    required_skills: str = ""
    description: str = ""
    registered_partner: str = ""
    k: str = "3"
    roles: list[str] = field(default_factory=list)
    min_tier: str = ""
    exclude: str = ""
    region_must_match: bool = False
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def blank(cls, roles: Sequence[str]) -> OpportunityForm:
        return cls(roles=list(roles))

    @classmethod
    def of(cls, posted: PostedForm) -> OpportunityForm:
        return cls(
            opportunity_id=posted.get("opportunity_id").strip(),
            industry=posted.get("industry").strip(),
            region=posted.get("region").strip(),
            deal_size=posted.get("deal_size").strip(),
            required_skills=posted.get("required_skills"),
            description=posted.get("description"),
            registered_partner=posted.get("registered_partner").strip(),
            k=posted.get("k", "3").strip(),
            roles=posted.all("roles"),
            min_tier=posted.get("min_tier").strip(),
            exclude=posted.get("exclude"),
            region_must_match=posted.get("region_must_match") == "on",
        )

    def _number(self, name: str, text: str, integer: bool) -> float | int | None:
        if not text:
            return None
        try:
            value = float(text.replace(",", "").replace("_", ""))
        except ValueError:
            self.errors[name] = (
                "enter a number, e.g. 250000" if name == "deal_size" else "enter a whole number"
            )
            return None
        if not math.isfinite(value) or (integer and not value.is_integer()):
            self.errors[name] = "enter a whole number" if integer else "enter a finite number"
            return None
        return int(value) if integer else value

    def to_request(self, explain: bool = True) -> RecommendationRequest | None:
        """The API request these fields describe; None (and `errors` filled) when a field is invalid."""
        self.errors = {}
        deal_size = self._number("deal_size", self.deal_size, integer=False)
        k = self._number("k", self.k, integer=True)
        if not self.roles:
            self.errors["roles"] = "choose at least one role"
        if self.min_tier and self.min_tier not in TIERS:
            self.errors["min_tier"] = f"choose one of {', '.join(TIERS)}"
        if len(self.description) > MAX_TEXT:
            self.errors["description"] = f"at most {MAX_TEXT} characters"
        if self.errors:
            return None
        body: dict[str, Any] = {
            "opportunity": {
                "opportunity_id": self.opportunity_id or None,
                "customer_industry": self.industry or None,
                "region": self.region or None,
                "deal_size": deal_size,
                "required_skills": split_list(self.required_skills),
                "description": self.description.strip(),
                "registered_partner_id": partner_id_of(self.registered_partner),
            },
            "k": 3 if k is None else k,
            "roles": self.roles,
            "constraints": {
                "exclude": [pid for pid in (partner_id_of(p) for p in split_list(self.exclude)) if pid],
                "min_tier": self.min_tier or None,
                "region_must_match": self.region_must_match,
            },
            "explain": explain,
        }
        try:
            return RecommendationRequest.model_validate(body)
        except ValidationError as exc:
            self.errors = field_errors(exc)
            return None


def field_errors(exc: ValidationError) -> dict[str, str]:
    """Each error under the form field it concerns (the first per field), in plain words."""
    out: dict[str, str] = {}
    for error in exc.errors():
        loc = tuple(str(part) for part in error["loc"])
        name = next(
            (FIELD_OF_LOCATION[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in FIELD_OF_LOCATION),
            "form",
        )
        out.setdefault(name, plain(error["msg"]))
    return out


def plain(message: str) -> str:
    """pydantic's message without its 'Value error, ' prefix, starting in lower case."""
    message = message.removeprefix("Value error, ")
    return message[:1].lower() + message[1:]
