"""Finding the registered champion and materialising its bundle locally (at start-up, never per request)."""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from features.builds import BUILD_MANIFEST
from features.embeddings import make_embedder
from features.engine import FeatureEngine
from models.bundle import BUNDLE_ARTIFACT, FEATURES_ARTIFACT, BundleError, BundleManifest, load_bundle
from models.recommender import TeamRecommender
from partnermatch.settings import CHAMPION_ALIAS, REGISTERED_MODEL_NAME, Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    """A verified, ready-to-serve model."""

    version: str
    manifest: BundleManifest
    recommender: TeamRecommender


def download_version(settings: Settings, version: str | None = None) -> tuple[str, Path]:
    """Download a registered version (default: the champion) into PM_HOME/bundles/v<N>, once."""
    import mlflow  # imported here: MLflow stays out of module import and the request path
    from mlflow import MlflowClient

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    client = MlflowClient()
    if version is None:
        try:
            version = str(client.get_model_version_by_alias(REGISTERED_MODEL_NAME, CHAMPION_ALIAS).version)
        except mlflow.exceptions.MlflowException as exc:
            raise BundleError(
                f"no '{CHAMPION_ALIAS}' version of {REGISTERED_MODEL_NAME} in "
                f"{settings.mlflow_tracking_uri}; run `partnermatch train` first"
            ) from exc
    target = settings.bundle_cache_dir / f"v{version}"
    if not (target / "artifacts").is_dir():
        staging = settings.bundle_cache_dir / f".v{version}.tmp"
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{REGISTERED_MODEL_NAME}/{version}", dst_path=str(staging)
        )
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    return version, target


def load_model_dir(model_dir: Path, version: str) -> LoadedModel:
    """Verify and load a downloaded model folder: bundle checksums, then the feature build's."""
    bundle_dir = model_dir / "artifacts" / BUNDLE_ARTIFACT
    features_dir = model_dir / "artifacts" / FEATURES_ARTIFACT
    manifest, ranker = load_bundle(bundle_dir)
    build_path = features_dir / BUILD_MANIFEST
    if not build_path.is_file():
        raise BundleError(f"{model_dir}: feature build is missing ({build_path})")
    build = json.loads(build_path.read_text())
    if build.get("build_id") != manifest.feature_build_id:
        raise BundleError(
            f"{model_dir}: bundle expects feature build {manifest.feature_build_id}, "
            f"found {build.get('build_id')}"
        )
    try:
        engine = FeatureEngine.load(features_dir, make_embedder(manifest.embedder_kind), build["checksums"])
    except ValueError as exc:
        raise BundleError(f"{model_dir}: feature build failed verification: {exc}") from exc
    return LoadedModel(
        version=version,
        manifest=manifest,
        recommender=TeamRecommender(engine, ranker, manifest.recommender_config()),
    )


def load_champion(settings: Settings, version: str | None = None) -> LoadedModel:
    version, model_dir = download_version(settings, version)
    return load_model_dir(model_dir, version)
