"""The API tables on SQLite and PostgreSQL: keys, idempotency records, audit, events."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import pytest

from serving.persistence import (
    ApiStore,
    IdempotencyClaim,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    Written,
    request_sha256,
)
from tests.features.test_store_concurrency import run_together


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


CLAIM = IdempotencyClaim("k1", "idem", "PUT /v1/partners/P1", "a" * 64)


def test_a_finished_claim_replays_its_answer(api_store: ApiStore) -> None:
    assert api_store.claim_key(CLAIM) is None
    api_store.finish_key(CLAIM, 200, {"written": 1})
    assert api_store.claim_key(CLAIM) == Written(200, {"written": 1}, replayed=True)


def test_a_key_still_being_answered_is_in_progress_for_a_second_request(api_store: ApiStore) -> None:
    api_store.claim_key(CLAIM)
    with pytest.raises(IdempotencyInProgress):
        api_store.claim_key(CLAIM)


def test_a_released_key_can_be_claimed_again(api_store: ApiStore) -> None:
    api_store.claim_key(CLAIM)
    api_store.release_key(CLAIM)
    assert api_store.claim_key(CLAIM) is None


def test_simultaneous_claims_of_one_key_leave_it_to_one_request(api_store: ApiStore) -> None:
    won: list[Written | None] = []
    errors = run_together([lambda: won.append(api_store.claim_key(CLAIM)) for _ in range(8)])
    assert won == [None] and len(errors) == 7
    assert all(isinstance(e, IdempotencyInProgress) for e in errors)


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


FEEDBACK_ROW = {"key_id": "k1", "partner_id": "P1", "action": "accepted", "reason_code": "good_fit"}


def answer(row_id: int) -> tuple[int, dict[str, int]]:
    return 201, {"id": row_id}


def test_simultaneous_writes_with_one_idempotency_key_add_one_record(api_store: ApiStore) -> None:
    results: list[Written] = []

    def post(n: int) -> None:
        claim = IdempotencyClaim("k1", "one-key", "POST /v1/feedback", f"{n % 2:064d}")
        results.append(api_store.add_record("feedback", {**FEEDBACK_ROW, "comment": str(n)}, answer, claim))

    errors = run_together([partial(post, n) for n in range(8)])
    assert len(api_store.rows("feedback")) == 1
    assert all(isinstance(e, IdempotencyKeyReused) for e in errors)
    assert [r.replayed for r in results].count(False) == 1


def test_a_replayed_write_answers_the_first_response(api_store: ApiStore) -> None:
    claim = IdempotencyClaim("k1", "key", "POST /v1/feedback", "a" * 64)
    first = api_store.add_record("feedback", FEEDBACK_ROW, answer, claim)
    again = api_store.add_record("feedback", FEEDBACK_ROW, answer, claim)
    assert (again.replayed, again.response) == (True, first.response)


def test_a_key_reused_with_another_request_is_refused(api_store: ApiStore) -> None:
    first, other = (IdempotencyClaim("k1", "key", "POST /x", digest * 64) for digest in "ab")
    api_store.add_record("feedback", FEEDBACK_ROW, answer, first)
    with pytest.raises(IdempotencyKeyReused):
        api_store.add_record("feedback", FEEDBACK_ROW, answer, other)


def test_the_request_fingerprint_ignores_json_whitespace_and_key_order() -> None:
    compact = request_sha256("POST /v1/feedback", b'{"a":1,"b":[1,2]}')
    spaced = request_sha256("POST /v1/feedback", b'{ "b": [1, 2],\n  "a": 1 }')
    assert compact == spaced != request_sha256("POST /v1/feedback", b'{"a":2,"b":[1,2]}')
