"""What clients learn when something is wrong: no filesystem path or checksum, and nothing before auth."""

from __future__ import annotations

import re
from pathlib import Path

from core.settings import Settings
from models.registry import LoadedModel, load_model_dir
from tests.serving.conftest import (
    ApiFactory,
    ServedModel,
    corrupt_copy,
    good_then_broken_loader,
    request_body,
)

URL = "/v1/recommendations"
# An absolute path or a run of hex digits as long as a shortened checksum.
LEAK = re.compile(r"/(tmp|home|root|var|work)/|[0-9a-f]{12}")


def _broken_loader(served_model: ServedModel, tmp_path: Path) -> object:
    broken = corrupt_copy(served_model.model_dir, tmp_path / "broken")

    def load(settings: Settings, version: str | None = None) -> LoadedModel:
        return load_model_dir(broken, "1")

    return load


def test_without_a_model_an_anonymous_request_gets_401_not_503(
    make_api: ApiFactory, served_model: ServedModel, tmp_path: Path
) -> None:
    api = make_api(loader=_broken_loader(served_model, tmp_path))
    response = api.client.post(URL, json=request_body())
    assert response.status_code == 401


def test_without_a_model_the_503_names_no_path_or_checksum(
    make_api: ApiFactory, served_model: ServedModel, tmp_path: Path
) -> None:
    api = make_api(loader=_broken_loader(served_model, tmp_path))
    response = api.client.post(URL, json=request_body(), headers=api.read)
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert LEAK.search(response.text) is None, response.text


def test_readiness_without_a_model_names_no_path_or_checksum(
    make_api: ApiFactory, served_model: ServedModel, tmp_path: Path
) -> None:
    api = make_api(loader=_broken_loader(served_model, tmp_path))
    ready = api.client.get("/health/ready")
    assert ready.status_code == 503 and "failed verification" in ready.json()["message"]
    assert LEAK.search(ready.text) is None, ready.text


def test_a_refused_reload_names_no_path_or_checksum(
    make_api: ApiFactory, served_model: ServedModel, tmp_path: Path
) -> None:
    api = make_api(loader=good_then_broken_loader(served_model, tmp_path))
    response = api.client.post("/v1/admin/reload", headers=api.admin)
    assert response.status_code == 409 and "failed verification" in response.json()["message"]
    assert LEAK.search(response.text) is None, response.text
