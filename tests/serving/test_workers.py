"""Several workers on one store: a reload or partner change made on one is replayed by the others."""

from __future__ import annotations

from core.settings import Settings
from features import schema as s
from models.registry import LoadedModel, load_model_dir
from serving.sync import EventFollower
from tests.serving.conftest import Api, ApiFactory, ServedModel, request_body

PARTNER = {"name": "Fjord Integrators", "partner_type": "services", "skills": ["aws cloud migration"]}


def two_workers(make_api: ApiFactory, **kwargs: object) -> tuple[Api, Api]:
    # event_poll_seconds=0: the test replays events itself (poll_once) instead of waiting for a thread.
    first = make_api(event_poll_seconds=0, fresh=True, **kwargs)
    second = make_api(event_poll_seconds=0, fresh=True, database=first, **kwargs)
    return first, second


def follower(api: Api) -> EventFollower:
    events: EventFollower = api.app.state.events
    return events


def test_a_partner_synced_on_one_worker_is_served_by_the_other_after_a_poll(make_api: ApiFactory) -> None:
    first, second = two_workers(make_api)
    first.client.put("/v1/partners/W-1", json=PARTNER, headers=first.write)
    holder = second.app.state.holder
    assert not holder.current.ranker.knows("W-1")
    assert follower(second).poll_once() == 1
    assert holder.current.ranker.knows("W-1")


def test_a_worker_does_not_replay_its_own_changes(make_api: ApiFactory) -> None:
    first, _ = two_workers(make_api)
    first.client.put("/v1/partners/W-2", json=PARTNER, headers=first.write)
    assert follower(first).poll_once() == 0


def test_a_deactivation_on_one_worker_reaches_the_other(make_api: ApiFactory) -> None:
    first, second = two_workers(make_api)
    top = first.client.post("/v1/recommendations", json=request_body(), headers=first.read).json()["teams"][0]
    pid = next(m["partner_id"] for m in top["members"] if m["role"] == s.SERVICES)
    first.client.put(f"/v1/partners/{pid}", json={**PARTNER, "name": "synced"}, headers=first.write)
    first.client.delete(f"/v1/partners/{pid}", headers=first.write)
    follower(second).poll_once()
    teams = second.client.post("/v1/recommendations", json=request_body(k=5), headers=second.read).json()[
        "teams"
    ]
    assert all(m["partner_id"] != pid for t in teams for m in t["members"])


def test_a_reload_on_one_worker_is_replayed_by_the_other(
    make_api: ApiFactory, served_model: ServedModel
) -> None:
    def load(settings: Settings, version: str | None = None) -> LoadedModel:
        return load_model_dir(served_model.model_dir, version or "1")

    first, second = two_workers(make_api, loader=load)
    assert (
        first.client.post("/v1/admin/reload", json={"version": "2"}, headers=first.admin).status_code == 200
    )
    follower(second).poll_once()
    assert second.client.get("/v1/model", headers=second.read).json()["version"] == "2"
