"""Model info, health, metrics, hot reload and its faults, and the serving/training boundary."""

from __future__ import annotations

import ast
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi.testclient import TestClient

from core.settings import Settings
from models.registry import LoadedModel, load_model_dir
from tests.serving.conftest import (
    ApiFactory,
    ServedModel,
    corrupt_copy,
    good_then_broken_loader,
    request_body,
)

SERVING = Path(__file__).resolve().parents[2] / "serving"


def test_model_info_names_the_served_version(make_api: ApiFactory) -> None:
    api = make_api()
    body = api.client.get("/v1/model", headers=api.read).json()
    assert body["version"] == "1" and body["roles"] == ["services", "influence", "reseller"]


def test_liveness_and_readiness_answer_without_a_key(make_api: ApiFactory) -> None:
    api = make_api()
    assert api.client.get("/health/live").status_code == 200
    assert api.client.get("/health/ready").json()["model_version"] == "1"


def test_metrics_expose_latency_per_route_errors_and_the_model_version(make_api: ApiFactory) -> None:
    api = make_api()
    api.client.post("/v1/recommendations", json=request_body(), headers=api.read)
    api.client.post("/v1/recommendations", json=request_body())
    text = api.client.get("/metrics").text
    assert 'pm_request_duration_seconds_count{method="POST",route="/v1/recommendations"} 2.0' in text
    assert 'pm_errors_total{method="POST",route="/v1/recommendations",status="401"} 1.0' in text
    assert 'pm_model_version_info{version="1"} 1.0' in text


def test_a_corrupt_bundle_at_start_leaves_the_process_live_but_not_ready(
    make_api: ApiFactory, served_model: ServedModel, tmp_path: Path
) -> None:
    broken = corrupt_copy(served_model.model_dir, tmp_path / "broken")

    def load(settings: Settings, version: str | None = None) -> LoadedModel:
        return load_model_dir(broken, "1")

    api = make_api(loader=load)
    assert api.client.get("/health/live").status_code == 200
    ready = api.client.get("/health/ready")
    assert ready.status_code == 503 and "failed verification" in ready.json()["message"]
    response = api.client.post("/v1/recommendations", json=request_body(), headers=api.read)
    assert response.status_code == 503 and response.json()["code"] == "model_unavailable"


def test_a_reload_swaps_in_the_new_version(make_api: ApiFactory, served_model: ServedModel) -> None:
    versions = iter(["1", "2"])

    def load(settings: Settings, version: str | None = None) -> LoadedModel:
        return load_model_dir(served_model.model_dir, next(versions))

    api = make_api(loader=load)
    response = api.client.post("/v1/admin/reload", headers=api.admin)
    assert response.json() == {"previous_version": "1", "model_version": "2"}
    assert (
        api.client.post("/v1/recommendations", json=request_body(), headers=api.read).json()["model_version"]
        == "2"
    )


def test_a_bad_reload_is_refused_and_the_old_model_keeps_serving(
    make_api: ApiFactory, served_model: ServedModel, tmp_path: Path
) -> None:
    api = make_api(loader=good_then_broken_loader(served_model, tmp_path))
    response = api.client.post("/v1/admin/reload", headers=api.admin)
    assert response.status_code == 409 and response.json()["code"] == "reload_refused"
    after = api.client.post("/v1/recommendations", json=request_body(), headers=api.read)
    assert after.status_code == 200 and after.json()["model_version"] == "1"


def test_reload_needs_the_admin_scope(make_api: ApiFactory) -> None:
    api = make_api()
    assert api.client.post("/v1/admin/reload", headers=api.read).status_code == 403


def test_requests_during_repeated_swaps_all_succeed_with_one_version_each(
    make_api: ApiFactory, served_model: ServedModel
) -> None:
    models = {v: load_model_dir(served_model.model_dir, v) for v in ("1", "2")}
    turn = iter(range(10_000))

    def load(settings: Settings, version: str | None = None) -> LoadedModel:
        return models["1" if next(turn) % 2 == 0 else "2"]

    api = make_api(loader=load)
    stop = threading.Event()

    def swap() -> int:
        swaps = 0
        while not stop.is_set():
            assert api.client.post("/v1/admin/reload", headers=api.admin).status_code == 200
            swaps += 1
        return swaps

    with ThreadPoolExecutor(max_workers=3) as pool:
        swapper = pool.submit(swap)
        answers = list(
            pool.map(
                lambda _: api.client.post("/v1/recommendations", json=request_body(), headers=api.read),
                range(24),
            )
        )
        stop.set()
        assert swapper.result() > 0
    assert [r.status_code for r in answers] == [200] * 24
    assert {r.json()["model_version"] for r in answers} <= {"1", "2"}
    # Each answer's audit row carries the version of the model that ranked it.
    audit = {e["request_id"]: e["model_version"] for e in api.store.audit_entries()}
    assert all(audit[r.json()["request_id"]] == r.json()["model_version"] for r in answers)


def test_an_unexpected_error_is_json_without_a_stack_trace(make_api: ApiFactory) -> None:
    api = make_api()

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    api.app.state.holder.current.ranker.prepare = explode
    # A second client on the same started app (no second lifespan) that returns 500s instead of raising.
    quiet = TestClient(api.app, raise_server_exceptions=False)
    response = quiet.post("/v1/recommendations", json=request_body(), headers=api.read)
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error" and "secret" not in response.text


def test_serving_never_imports_training() -> None:
    offenders = []
    for path in SERVING.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{path.name}: {n}" for n in names if n == "training" or n.startswith("training.")]
    assert offenders == []
