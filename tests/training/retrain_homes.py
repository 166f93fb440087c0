"""Homes for the retrain tests: a small generated export whose later deals arrive after the first model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import func, insert, select, update

from core.settings import Settings
from features import schema as s
from features import tables as t
from features.contract import load_export
from features.store import Store
from partnermatch.commands.generate import generate
from tests.configs import loose_gate_training
from tests.partnermatch.commands.cli import run_command

# No candidate raises the top-1 true win probability by a whole 1.0: the champion gate always refuses.
REFUSING_LIFT = 1.0
# The share of deals (by creation date) in the store when the first model trains; the rest come later.
EARLY_SHARE = 0.8
API_DEALS = 3
FEEDBACK_ROWS = 2


@dataclass(frozen=True)
class RetrainHome:
    """A home whose store holds the early deals; `export` is the whole export (and the gate's truth)."""

    settings: Settings
    export: Path
    config: Path
    refusing_config: Path

    @property
    def store(self) -> Store:
        return Store(self.settings.store_url)


def build_home(root: Path) -> RetrainHome:
    """Generate an export, write its early part beside it and ingest only that part."""
    export, early = root / "export", root / "early"
    code, output = run_command(
        generate, "--partners", "90", "--opportunities", "900", "--seed", "4", "--out", str(export)
    )
    assert code == 0, output
    _write_early_part(export, early)
    config, refusing = root / "train.toml", root / "refusing.toml"
    config.write_text(loose_gate_training())
    refusing.write_text(loose_gate_training(min_lift_true_win_probability=REFUSING_LIFT))
    home = RetrainHome(Settings(home=root / "home", embedder="hashing"), export, config, refusing)
    _ingest(home.store, early)
    return home


def _write_early_part(export: Path, early: Path) -> None:
    early.mkdir()
    frames = {
        name: pd.read_csv(export / f"{name}.csv", dtype=str, keep_default_na=False) for name in s.TABLES
    }
    opportunities = frames[s.OPPORTUNITIES]
    created = pd.to_datetime(opportunities[s.CREATED_AT])
    cutoff = created.sort_values().iloc[int(len(created) * EARLY_SHARE)]
    frames[s.OPPORTUNITIES] = kept = opportunities[created < cutoff]
    deals = frames[s.DEAL_PARTNERS]
    frames[s.DEAL_PARTNERS] = deals[deals[s.OPPORTUNITY_ID].isin(kept[s.OPPORTUNITY_ID])]
    for name, frame in frames.items():
        frame.to_csv(early / f"{name}.csv", index=False)


def _ingest(store: Store, folder: Path) -> None:
    store.migrate()
    partners, opportunities = store.known_ids()
    store.ingest(load_export(folder, known_partner_ids=partners, known_opportunity_ids=opportunities))


def receive_later_data(home: RetrainHome) -> int:
    """Ingest the later deals, mark a few of them as posted through the API, and add rep feedback; returns
    how many closed deals arrived."""
    store = home.store
    before = _closed_deals(store)
    _ingest(store, home.export)
    opp = t.opportunities
    with store.writing() as conn:
        newest = conn.execute(
            select(opp.c[s.OPPORTUNITY_ID])
            .where(opp.c[s.OUTCOME].in_((s.WON, s.LOST)))
            .order_by(opp.c[s.CREATED_AT].desc())
            .limit(API_DEALS)
        ).scalars()
        conn.execute(
            update(opp).where(opp.c[s.OPPORTUNITY_ID].in_(list(newest))).values({t.ORIGIN: t.ORIGIN_API})
        )
        now = datetime.now().replace(microsecond=0)
        for _ in range(FEEDBACK_ROWS):
            conn.execute(insert(t.feedback), {"created_at": now, "action": "accepted", "reason_code": "fit"})
    return _closed_deals(store) - before


def _closed_deals(store: Store) -> int:
    opp = t.opportunities
    query = select(func.count()).select_from(opp).where(opp.c[s.OUTCOME].in_((s.WON, s.LOST)))
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())
