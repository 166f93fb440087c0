"""APIs with a challenger: the session's trained model serves as version 1 and, relabelled, as 2."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from core.settings import ServingSettings, Settings
from models.registry import LoadedModel
from serving.app import create_app
from serving.auth import create_key
from serving.persistence import ApiStore
from tests.serving.conftest import Api, ServedModel

CHAMPION, CHALLENGER = "1", "2"

ShadowApiFactory = Callable[..., Api]


def versioned_loader(model: LoadedModel) -> Callable[..., LoadedModel]:
    """The same trained model under whichever version is asked for (the champion when none is)."""

    def load(settings: Settings, version: str | None = None) -> LoadedModel:
        return replace(model, version=version or CHAMPION)

    return load


def metric(exposition: str, name: str, **labels: str) -> float | None:
    """The value of one sample of a text exposition (None: no such sample)."""
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


class ChallengerAlias:
    """A registry's `challenger` alias that a test moves: the app reads it at start and on reload."""

    def __init__(self, version: str | None = CHALLENGER) -> None:
        self.version = version

    def __call__(self, settings: Settings) -> str | None:
        return self.version


def shadow_apis(tmp_path: Path, served_model: ServedModel) -> Iterator[ShadowApiFactory]:
    """A factory `build(challenger=ChallengerAlias(), loader=..., database=..., **serving_settings)`;
    every app it built is closed when the generator resumes."""
    stack = ExitStack()
    counter = itertools.count()

    def build(
        challenger: Callable[[Settings], str | None] | None = None,
        loader: Callable[..., LoadedModel] | None = None,
        database: Api | None = None,
        **config: Any,
    ) -> Api:
        path = database.store.engine.url.database if database else tmp_path / f"shadow-{next(counter)}.db"
        settings = Settings(
            home=served_model.settings.home, embedder="hashing", database_url=f"sqlite:///{path}"
        )
        store = ApiStore.open(settings.store_url)
        keys = {}
        for name, scopes in {"read": ["read"], "write": ["write"], "admin": ["admin"]}.items():
            _, key = create_key(store, f"test-{name}", scopes)
            keys[name] = {"X-API-Key": key}
        serving = ServingSettings(
            **{"key_cache_seconds": 0, "event_poll_seconds": 0, "shadow_sample_rate": 1.0, **config}
        )
        app = create_app(
            settings,
            loader or versioned_loader(served_model.model),
            serving,
            challenger=challenger or ChallengerAlias(None),
        )
        client = stack.enter_context(TestClient(app))
        stack.callback(store.engine.dispose)
        all_scopes = {"X-API-Key": create_key(store, "test-all", ["read", "write", "admin"])[1]}
        return Api(client, app, store, keys["read"], keys["write"], keys["admin"], all_scopes)

    yield build
    stack.close()
