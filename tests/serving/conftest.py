"""API fixtures: one trained home per session, a fresh API database and keys per test, a TestClient."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.settings import ServingSettings, Settings
from models.registry import LoadedModel, download_version, load_model_dir
from serving.app import create_app
from serving.auth import create_key
from serving.persistence import ApiStore
from tests.integration.conftest import TrainedHome, trained_home  # noqa: F401

Headers = dict[str, str]
OPPORTUNITY = {
    "customer_industry": "financial-services",
    "region": "emea-north",
    "deal_size": 250000,
    "required_skills": ["aws cloud migration"],
    "description": "Bank wants to exit its datacentre to AWS",
}


def request_body(**overrides: Any) -> dict[str, Any]:
    return {"opportunity": dict(OPPORTUNITY), "k": 3, **overrides}


@dataclass(frozen=True)
class ServedModel:
    """The trained champion, downloaded once: its folder (to copy or corrupt) and a loaded copy."""

    settings: Settings
    model_dir: Path
    model: LoadedModel


@pytest.fixture(scope="session")
def served_model(request: pytest.FixtureRequest) -> ServedModel:
    """The session trained home; PM_API_TEST_HOME may name an already trained (hashing) home instead."""
    prepared = os.environ.get("PM_API_TEST_HOME")
    home: TrainedHome = (
        TrainedHome(Path(prepared), Path(prepared), {})
        if prepared
        else request.getfixturevalue("trained_home")
    )
    settings = Settings(home=home.home, embedder="hashing")
    version, model_dir = download_version(settings)
    return ServedModel(settings, model_dir, load_model_dir(model_dir, version))


@dataclass
class Api:
    client: TestClient
    app: FastAPI
    store: ApiStore
    read: Headers
    write: Headers
    admin: Headers
    all: Headers


def fixed_loader(model: LoadedModel) -> Callable[..., LoadedModel]:
    def load(settings: Settings, version: str | None = None) -> LoadedModel:
        return model

    return load


def corrupt_copy(model_dir: Path, target: Path) -> Path:
    """A copy of a downloaded model whose LightGBM file no longer matches its checksum."""
    shutil.copytree(model_dir, target)
    with (target / "artifacts" / "bundle" / "model.txt").open("a") as fh:
        fh.write("\ntampered\n")
    return target


def good_then_broken_loader(served_model: ServedModel, tmp_path: Path) -> Callable[..., LoadedModel]:
    """Loads the good model first (start), then a corrupt copy of it (the next reload)."""
    broken = corrupt_copy(served_model.model_dir, tmp_path / "broken")
    sources = iter([(served_model.model_dir, "1"), (broken, "2")])

    def load(settings: Settings, version: str | None = None) -> LoadedModel:
        folder, name = next(sources)
        return load_model_dir(folder, name)

    return load


ApiFactory = Callable[..., Api]


@pytest.fixture()
def make_api(tmp_path: Path, served_model: ServedModel) -> Iterator[ApiFactory]:
    """Build an API on a fresh database: `make_api(loader=..., **serving_settings)`."""
    stack = ExitStack()
    counter = itertools.count()

    def build(
        loader: Callable[..., LoadedModel] | None = None,
        fresh: bool = False,
        database: Api | None = None,
        **config: Any,
    ) -> Api:
        """`fresh`: a model of its own (partner sync changes the engine in place; others share one).
        `database`: share that API's database (a second worker of the same deployment)."""
        path = database.store.engine.url.database if database else tmp_path / f"api-{next(counter)}.db"
        settings = Settings(
            home=served_model.settings.home, embedder="hashing", database_url=f"sqlite:///{path}"
        )
        store = ApiStore.open(settings.store_url)
        headers: dict[str, Headers] = {}
        for name, scopes in {
            "read": ["read"],
            "write": ["write"],
            "admin": ["admin"],
            "all": ["read", "write", "admin"],
        }.items():
            _, key = create_key(store, f"test-{name}", scopes)
            headers[name] = {"X-API-Key": key}
        serving = ServingSettings(**{"key_cache_seconds": 0, **config})
        if loader is None:
            model = (
                load_model_dir(served_model.model_dir, served_model.model.version)
                if fresh
                else served_model.model
            )
            loader = fixed_loader(model)
        app = create_app(settings, loader, serving)
        client = stack.enter_context(TestClient(app))
        stack.callback(store.engine.dispose)
        return Api(client, app, store, headers["read"], headers["write"], headers["admin"], headers["all"])

    yield build
    stack.close()


@pytest.fixture()
def api(make_api: ApiFactory) -> Api:
    return make_api()


@pytest.fixture()
def fresh_api(make_api: ApiFactory) -> Api:
    """An API whose engine no other test sees (for tests that sync partners)."""
    return make_api(fresh=True)
