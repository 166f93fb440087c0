"""The served model searches with the settings recorded in its bundle (those it was evaluated with)."""

from __future__ import annotations

from tests.serving.conftest import ServedModel


def test_the_served_model_searches_with_the_settings_it_was_evaluated_with(served_model: ServedModel) -> None:
    manifest = served_model.model.manifest
    assert manifest.search, "training records its search settings in the bundle"
    served = served_model.model.recommender.config.model_dump(mode="json")
    assert {key: served[key] for key in manifest.search} == manifest.search
