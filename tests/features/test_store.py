"""The store on SQLite and PostgreSQL: migrations, round trip, upsert semantics, rollback."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from features import schema as s
from features import tables as t
from features.contract import ValidatedExport, load_export
from features.records import EcosystemTables
from features.store import Store
from tests.features.conftest import WriteExport, tiny_tables, with_table


def assert_tables_equal(actual: EcosystemTables, expected: EcosystemTables) -> None:
    for name in s.TABLES:
        want = getattr(expected, name).sort_values(list(s.KEYS[name]), ignore_index=True)
        pd.testing.assert_frame_equal(getattr(actual, name), want, check_like=False)


def updated_at(store: Store) -> dict[str, object]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(t.partners.c.partner_id, t.partners.c.updated_at)).all()
    return {str(partner_id): stamp for partner_id, stamp in rows}


def schema_diff(store: Store) -> list[object]:
    with store.engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), t.metadata))


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from features.store import MIGRATIONS_DIR

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert head is not None
    return head


def test_migrate_creates_exactly_the_tables_of_the_metadata(store_url: str) -> None:
    store = Store(store_url)
    assert store.revision() is None
    assert store.migrate() == head_revision()
    assert schema_diff(store) == []


def test_migrating_twice_is_a_no_op(store: Store, write: WriteExport) -> None:
    store.ingest(load_export(write(tiny_tables())))
    before = store.counts()
    assert store.migrate() == head_revision()
    assert store.counts() == before
    assert schema_diff(store) == []


def test_a_valid_export_round_trips_through_the_store(store: Store, write: WriteExport) -> None:
    export = load_export(write(tiny_tables()))
    store.ingest(export)
    assert_tables_equal(store.load_tables(), export.tables)


def test_a_new_store_is_empty_and_counts_zero_rows(store: Store) -> None:
    assert store.is_empty()
    assert store.counts() == dict.fromkeys(s.TABLES, 0)


def test_the_first_ingest_inserts_every_row_and_logs_it(store: Store, write: WriteExport) -> None:
    summary = store.ingest(load_export(write(tiny_tables())))
    assert summary.inserted == {"partners": 3, "certifications": 2, "opportunities": 2, "deal_partners": 3}
    with store.engine.connect() as conn:
        [logged] = conn.execute(select(t.ingest_log.c.summary)).scalars().all()
    assert logged["inserted"] == summary.inserted


def test_reingesting_the_same_export_changes_nothing(store: Store, write: WriteExport) -> None:
    export = load_export(write(tiny_tables()))
    store.ingest(export)
    stamps = updated_at(store)
    summary = store.ingest(export)
    assert sum(summary.inserted.values()) + sum(summary.updated.values()) + sum(summary.deleted.values()) == 0
    assert summary.unchanged == {"partners": 3, "certifications": 2, "opportunities": 2, "deal_partners": 3}
    assert updated_at(store) == stamps


def test_a_newer_export_updates_a_changed_row_and_inserts_a_new_one(store: Store, write: WriteExport) -> None:
    tables = tiny_tables()
    store.ingest(load_export(write(tables)))
    partners = pd.concat(
        [
            tables.partners.assign(tier=["platinum", "silver", ""]),
            pd.DataFrame({"partner_id": ["P4"], "name": ["Delta"], "partner_type": ["services"]}),
        ],
        ignore_index=True,
    )
    summary = store.ingest(load_export(write(with_table(tables, partners=partners))))
    counts = (summary.inserted["partners"], summary.updated["partners"], summary.unchanged["partners"])
    assert counts == (1, 1, 2)
    stored = store.load_tables().partners.set_index("partner_id")
    assert stored.loc["P1", "tier"] == "platinum"
    assert stored.loc["P4", "name"] == "Delta"


def test_an_exported_opportunity_gets_its_deal_partner_set_replaced(store: Store, write: WriteExport) -> None:
    tables = tiny_tables()
    store.ingest(load_export(write(tables)))
    deals = tables.deal_partners.iloc[:2]  # P3 no longer worked O1
    summary = store.ingest(load_export(write(with_table(tables, deal_partners=deals))))
    assert summary.deleted["deal_partners"] == 1
    assert store.load_tables().deal_partners["partner_id"].tolist() == ["P1", "P2"]


def test_an_export_of_children_only_merges_into_the_stored_sets(store: Store, write: WriteExport) -> None:
    tables = tiny_tables()
    store.ingest(load_export(write(tables)))
    empty = {name: getattr(tables, name).iloc[0:0] for name in (s.PARTNERS, s.OPPORTUNITIES, s.DEAL_PARTNERS)}
    certs = pd.DataFrame({"partner_id": ["P2"], "certification": ["togaf"]})
    known_partners, known_opportunities = store.known_ids()
    export = load_export(
        write(with_table(tables, certifications=certs, **empty)),
        known_partner_ids=known_partners,
        known_opportunity_ids=known_opportunities,
    )
    store.ingest(export)
    assert store.counts()["certifications"] == 3


def test_a_failed_ingest_leaves_the_store_unchanged(store: Store, write: WriteExport, tmp_path: Path) -> None:
    tables = tiny_tables()
    store.ingest(load_export(write(tables)))
    before, counts = store.load_tables(), store.counts()
    valid = load_export(write(tables)).tables
    # Bypass the contract: a deal row whose partner exists nowhere violates the foreign key mid-ingest.
    bad_deals = pd.concat(
        [valid.deal_partners, valid.deal_partners.iloc[:1].assign(partner_id="GHOST")], ignore_index=True
    )
    changed_partners = valid.partners.assign(name="renamed")
    broken = with_table(valid, partners=changed_partners, deal_partners=bad_deals)
    export = ValidatedExport(broken, tmp_path, [])
    with pytest.raises(Exception):  # noqa: B017 - the driver's IntegrityError differs per backend
        store.ingest(export)
    assert store.counts() == counts
    assert_tables_equal(store.load_tables(), before)


def test_upsert_partners_inserts_new_and_updates_changed_partners(store: Store, write: WriteExport) -> None:
    store.ingest(load_export(write(tiny_tables())))
    stored = store.load_tables().partners
    incoming = pd.concat(
        [
            stored.iloc[:1].assign(psat=9.5),
            pd.DataFrame({"partner_id": ["P5"], "name": ["Echo"], "partner_type": ["reseller"]}),
        ],
        ignore_index=True,
    )
    assert store.upsert_partners(incoming) == 2
    after = store.load_tables().partners.set_index("partner_id")
    assert after.loc["P1", "psat"] == 9.5
    assert after.loc["P5", "tier"] == "registered"


def test_upsert_partners_replaces_their_certifications(store: Store, write: WriteExport) -> None:
    store.ingest(load_export(write(tiny_tables())))
    p1 = store.load_tables().partners.iloc[:1]
    store.upsert_partners(p1, pd.DataFrame({"partner_id": ["P1"], "certification": ["gcp-pca"]}))
    assert store.load_tables().certifications["certification"].tolist() == ["gcp-pca"]


def test_deactivate_partner_marks_it_inactive(store: Store, write: WriteExport) -> None:
    store.ingest(load_export(write(tiny_tables())))
    assert store.deactivate_partner("P1")
    assert store.load_tables().partners.set_index("partner_id").loc["P1", "status"] == "inactive"


def test_deactivate_partner_reports_an_unknown_partner(store: Store) -> None:
    assert not store.deactivate_partner("nobody")


def test_known_ids_lists_stored_partners_and_opportunities(store: Store, write: WriteExport) -> None:
    store.ingest(load_export(write(tiny_tables())))
    assert store.known_ids() == ({"P1", "P2", "P3"}, {"O1", "O2"})


def test_a_sqlite_store_creates_its_parent_folder(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'a' / 'b' / 'store.db'}")
    store.migrate()
    assert (tmp_path / "a" / "b" / "store.db").is_file()


def _with_requests(request_ids: list[str]) -> EcosystemTables:
    tables = tiny_tables()
    return with_table(tables, opportunities=tables.opportunities.assign(request_id=request_ids))


def test_the_store_keeps_and_returns_the_request_id(store: Store, write: WriteExport) -> None:
    store.ingest(load_export(write(_with_requests(["R1", ""]))))
    stored = store.load_tables().opportunities
    assert stored[s.REQUEST_ID].iloc[0] == "R1" and pd.isna(stored[s.REQUEST_ID].iloc[1])


def test_an_export_without_request_id_is_stored_with_an_empty_request_id(
    store: Store, write: WriteExport
) -> None:
    store.ingest(load_export(write(tiny_tables())))
    assert store.load_tables().opportunities[s.REQUEST_ID].isna().all()


def test_a_new_request_id_updates_the_stored_opportunity(store: Store, write: WriteExport) -> None:
    store.ingest(load_export(write(tiny_tables())))
    summary = store.ingest(load_export(write(_with_requests(["R1", ""]))))
    assert (summary.updated["opportunities"], summary.unchanged["opportunities"]) == (1, 1)


def test_a_store_migrated_before_request_id_keeps_its_opportunities_on_upgrade(
    store_url: str, write: WriteExport
) -> None:
    from alembic import command
    from alembic.config import Config

    from features.store import MIGRATIONS_DIR

    store = Store(store_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with store.writing() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0003")
        conn.execute(
            t.partners.insert().values(
                partner_id="P1",
                name="Acme",
                partner_type="services",
                tier="gold",
                regions=[],
                industries=[],
                skills=[],
                status="active",
                updated_at=pd.Timestamp("2024-01-01").to_pydatetime(),
            )
        )
        conn.exec_driver_sql(
            "INSERT INTO opportunities (opportunity_id, required_skills, created_at, outcome, updated_at) "
            "VALUES ('O1', '[]', '2023-01-10', 'won', '2024-01-01 00:00:00')"
        )
    assert store.migrate() == head_revision()
    stored = store.load_tables().opportunities
    assert stored[s.OPPORTUNITY_ID].tolist() == ["O1"] and stored[s.REQUEST_ID].isna().all()
    store.engine.dispose()
