"""Fixtures for the features tests: a tiny valid export, a migrated store per backend, the tiny snapshot."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Literal

import pandas as pd
import pytest

from features.embeddings import HashingEmbedder
from features.export_files import write_export
from features.prepared import PreparedOpportunity
from features.records import EcosystemTables
from features.snapshot import FeatureSnapshot
from features.store import Store
from tests.features import snapshot_fixtures

WriteExport = Callable[..., Path]


def tiny_tables() -> EcosystemTables:
    """Three partners (one per default role), two opportunities, one team; cells as an export holds them."""
    return EcosystemTables(
        partners=pd.DataFrame(
            {
                "partner_id": ["P1", "P2", "P3"],
                "name": ["Acme Services", "Brightpath Advisory", "Channel Co"],
                "partner_type": ["services", "influence", "reseller"],
                "tier": ["gold", "silver", ""],
                "regions": ["emea-north;north-america", "emea-north", ""],
                "industries": ["retail", "retail;banking", ""],
                "skills": ["sap;data-migration", "strategy", ""],
                "description": ["SAP integrator", "", ""],
                "capacity": ["3", "", "0"],
                "psat": ["8.5", "7", ""],
                "joined_at": ["2019-04-01", "", "2021-01-15"],
                "status": ["active", "", "inactive"],
            }
        ),
        certifications=pd.DataFrame(
            {
                "partner_id": ["P1", "P1"],
                "certification": ["sap-s4", "aws-sa"],
                "level": ["professional", ""],
                "issued_at": ["2022-01-01", ""],
                "expires_at": ["2026-01-01", ""],
            }
        ),
        opportunities=pd.DataFrame(
            {
                "opportunity_id": ["O1", "O2"],
                "customer_id": ["C1", "C2"],
                "customer_industry": ["retail", "banking"],
                "region": ["emea-north", "north-america"],
                "deal_size": ["250000", ""],
                "required_skills": ["sap;data-migration", ""],
                "description": ["S/4 migration", "core banking advice"],
                "created_at": ["2023-01-10", "2023-06-01"],
                "closed_at": ["2023-04-20", ""],
                "outcome": ["won", "open"],
                "registered_partner_id": ["P1", ""],
            }
        ),
        deal_partners=pd.DataFrame(
            {
                "opportunity_id": ["O1", "O1", "O1"],
                "partner_id": ["P1", "P2", "P3"],
                "role": ["services", "influence", "reseller"],
                "sourced": ["true", "false", ""],
            }
        ),
    )


def with_table(tables: EcosystemTables, **frames: pd.DataFrame) -> EcosystemTables:
    return replace(tables, **frames)


@pytest.fixture
def write(tmp_path: Path) -> WriteExport:
    """write(tables, fmt="csv") -> a new export folder holding them."""
    counter = iter(range(1_000_000))

    def _write(tables: EcosystemTables, fmt: Literal["csv", "parquet"] = "csv") -> Path:
        folder = tmp_path / f"export-{next(counter)}"
        write_export(tables, folder, fmt)
        return folder

    return _write


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated, empty store on each backend."""
    st = Store(store_url)
    st.migrate()
    yield st
    st.engine.dispose()


@pytest.fixture(scope="module")
def snapshot() -> FeatureSnapshot:
    """The tiny ecosystem's snapshot (tests/features/snapshot_fixtures.py), built once per test module."""
    return FeatureSnapshot.build(snapshot_fixtures.tables(), HashingEmbedder())


@pytest.fixture(scope="module")
def opp(snapshot: FeatureSnapshot) -> PreparedOpportunity:
    """The tiny ecosystem's AWS migration request, prepared against that snapshot."""
    return snapshot.prepare([snapshot_fixtures.aws_query()])[0]
