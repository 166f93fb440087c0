"""The API tables on SQLite and PostgreSQL: keys, idempotency records, audit, events."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from serving.persistence import ApiStore


@pytest.fixture()
def api_store(store_url: str) -> Iterator[ApiStore]:
    store = ApiStore.open(store_url)
    yield store
    store.engine.dispose()


def test_a_revoked_key_is_found_but_inactive(api_store: ApiStore) -> None:
    api_store.add_key("k1", "sync", "0" * 64, ["read", "write"])
    assert api_store.revoke_key("k1") and not api_store.revoke_key("k1")
    found = api_store.find_key("k1")
    assert found is not None and not found.active and found.scopes == ("read", "write")


def test_the_first_idempotent_response_wins(api_store: ApiStore) -> None:
    api_store.save_idempotent("k1", "idem", "POST /v1/feedback", "a" * 64, 201, {"id": 1})
    api_store.save_idempotent("k1", "idem", "POST /v1/feedback", "a" * 64, 201, {"id": 2})
    found = api_store.find_idempotent("k1", "idem")
    assert found is not None and found.response == {"id": 1}


def test_audit_entries_keep_the_request_and_the_teams(api_store: ApiStore) -> None:
    entry = {
        "request_id": "r1",
        "key_id": "k1",
        "route": "/v1/recommendations",
        "model_version": "3",
        "request": {"k": 2},
        "teams": [{"rank": 1, "members": {"services": "P1"}}],
    }
    api_store.write_audit([entry])
    [row] = api_store.audit_entries("r1")
    assert (row["model_version"], row["request"], row["teams"]) == ("3", {"k": 2}, entry["teams"])


def test_events_are_read_back_in_order_after_a_given_id(api_store: ApiStore) -> None:
    start = api_store.last_event_id()
    first = api_store.add_event("w1", "reload", {"version": "2"})
    api_store.add_event("w2", "deactivate", {"partner_id": "P1"})
    assert [e.kind for e in api_store.events_after(start)] == ["reload", "deactivate"]
    assert [e.origin for e in api_store.events_after(first)] == ["w2"]
