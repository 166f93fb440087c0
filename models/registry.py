"""Finding the registered champion and materialising its bundle locally (at start-up, never per request)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

from core.settings import CHALLENGER_ALIAS, CHAMPION_ALIAS, REGISTERED_MODEL_NAME, Settings
from features.builds import BUILD_MANIFEST
from features.embedder_factory import make_embedder
from features.snapshot import FeatureSnapshot
from models.bundle import BUNDLE_ARTIFACT, FEATURES_ARTIFACT, BundleError, BundleManifest, open_bundle
from models.recommender import TeamRecommender

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    """A verified, ready-to-serve model."""

    version: str
    manifest: BundleManifest
    recommender: TeamRecommender
    # When the store was read for its feature build: later partner changes are replayed onto it.
    snapshot_at: datetime | None = None


# A staging folder older than this belongs to no running download (a crashed one left it).
STALE_STAGING_SECONDS = 3600.0
# Tracking URIs served by an MLflow tracking server (shared by a team) rather than a store opened directly.
SERVER_SCHEMES = frozenset({"http", "https"})
# MLflow's client retries a refused connection for about four minutes (measured: 4 min 13 s) before it
# gives up with a traceback; a server that does not answer within this is reported at once instead.
SERVER_CHECK_SECONDS = 5.0


def is_tracking_server(tracking_uri: str) -> bool:
    return urlparse(tracking_uri).scheme.lower() in SERVER_SCHEMES


def tracking_server_problem(tracking_uri: str) -> str | None:
    """Why the MLflow tracking server at `tracking_uri` cannot be used, or None (it answers, or the URI is
    a store opened directly). Any HTTP answer counts: only a server that cannot be reached is a problem."""
    if not is_tracking_server(tracking_uri):
        return None
    import httpx  # imported here, like MLflow: only a server URI needs it

    try:
        httpx.get(f"{tracking_uri.rstrip('/')}/health", timeout=SERVER_CHECK_SECONDS)
    except httpx.TransportError as exc:
        return f"the MLflow tracking server at {tracking_uri} does not answer ({exc or type(exc).__name__})"
    return None


def _require_server(settings: Settings) -> None:
    """Raise BundleError at once when the registry is a tracking server that does not answer; a cached
    bundle of a named version loads without it."""
    problem = tracking_server_problem(settings.mlflow_tracking_uri)
    if problem is not None:
        raise BundleError(problem, public="the model registry is unreachable")


def download_version(
    settings: Settings, version: str | None = None, refresh: bool = False
) -> tuple[str, Path]:
    """Download a registered version (default: the champion) into PM_HOME/bundles/v<N>, once.

    `refresh` downloads it again even when cached (a cached copy failed verification).
    """
    version, target, _ = _materialise(settings, version, refresh)
    return version, target


def _materialise(settings: Settings, version: str | None, refresh: bool) -> tuple[str, Path, bool]:
    """(version, folder, whether it was downloaded now rather than found in the cache)."""
    import mlflow  # imported here: MLflow stays out of module import and the request path
    from mlflow import MlflowClient

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    client = MlflowClient()
    version_given = version is not None
    if version is None:
        _require_server(settings)
        try:
            version = str(client.get_model_version_by_alias(REGISTERED_MODEL_NAME, CHAMPION_ALIAS).version)
        except mlflow.exceptions.MlflowException as exc:
            raise BundleError(
                f"no '{CHAMPION_ALIAS}' version of {REGISTERED_MODEL_NAME} in "
                f"{settings.mlflow_tracking_uri}; run `partnermatch train` first",
                public=f"no '{CHAMPION_ALIAS}' version is registered",
            ) from exc
    cache = settings.bundle_cache_dir
    target = cache / f"v{version}"
    if (target / "artifacts").is_dir() and not refresh:
        return version, target, False
    if version_given:  # the alias lookup above checked it otherwise
        _require_server(settings)
    cache.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(cache)
    # A private staging folder per download, renamed into place when complete: two workers fetching the
    # same version never write into one folder, and a failed download leaves nothing behind.
    staging = Path(tempfile.mkdtemp(prefix=f".v{version}.", suffix=".tmp", dir=cache))
    try:
        try:
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{REGISTERED_MODEL_NAME}/{version}", dst_path=str(staging)
            )
        except mlflow.exceptions.MlflowException as exc:
            raise BundleError(
                f"version {version} of {REGISTERED_MODEL_NAME} cannot be downloaded: {exc}",
                public=f"version {version} cannot be fetched from the registry",
            ) from exc
        if target.exists():
            _discard(target)
        try:
            staging.rename(target)
        except OSError:
            # Another worker's download of the same version landed first: use that one.
            if not (target / "artifacts").is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return version, target, True


def _discard(folder: Path) -> None:
    """Move a folder out of the way, then delete it (a reader of the old name never sees it half-deleted)."""
    trash = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        folder.rename(trash)
    except FileNotFoundError:
        return  # another worker discarded it already
    shutil.rmtree(trash, ignore_errors=True)


def _remove_stale_staging(cache: Path) -> None:
    cutoff = time.time() - STALE_STAGING_SECONDS
    for folder in cache.glob(".v*.tmp"):
        try:
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except FileNotFoundError:
            continue


def load_model_dir(model_dir: Path, version: str, embedder_cache: Path | None = None) -> LoadedModel:
    """Verify and load a downloaded model folder: bundle checksums, then the feature build's."""
    bundle_dir = model_dir / "artifacts" / BUNDLE_ARTIFACT
    features_dir = model_dir / "artifacts" / FEATURES_ARTIFACT
    bundle = open_bundle(bundle_dir)
    manifest = bundle.manifest
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
        snapshot = FeatureSnapshot.load(
            features_dir, make_embedder(manifest.embedder_kind, cache_dir=embedder_cache), build["checksums"]
        )
    except ValueError as exc:
        raise BundleError(f"{model_dir}: feature build failed verification: {exc}") from exc
    stamp = build.get("snapshot_at") or build.get("created_at")
    return LoadedModel(
        version=version,
        manifest=manifest,
        recommender=TeamRecommender(
            snapshot, bundle.ranker, manifest.recommender_config(), bundle.cycle_time
        ),
        # Builds before `snapshot_at` was recorded: their creation time (UTC), as the store's naive clock.
        snapshot_at=_naive_local(datetime.fromisoformat(stamp)) if stamp else None,
    )


def load_champion(settings: Settings, version: str | None = None) -> LoadedModel:
    """Load a registered version, from the bundle cache when it verifies; a corrupt cached copy is fetched
    again from the registry (the registry's copy is refused like any other when it fails too)."""
    version, model_dir, downloaded = _materialise(settings, version, refresh=False)
    try:
        return load_model_dir(model_dir, version, settings.model_cache_dir)
    except BundleError as exc:
        if downloaded:
            raise
        logger.warning("cached bundle v%s failed verification, downloading it again: %s", version, exc)
    version, model_dir, _ = _materialise(settings, version, refresh=True)
    return load_model_dir(model_dir, version, settings.model_cache_dir)


def registered_challenger(settings: Settings) -> str | None:
    """The version the `challenger` alias points at, or None (no alias, or no registered model yet).

    Raises BundleError when the tracking server does not answer.
    """
    import mlflow  # imported here: MLflow stays out of module import and the request path
    from mlflow import MlflowClient

    _require_server(settings)
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    try:
        found = MlflowClient().get_model_version_by_alias(REGISTERED_MODEL_NAME, CHALLENGER_ALIAS)
    except mlflow.exceptions.MlflowException:
        return None
    return str(found.version)


def _naive_local(moment: datetime) -> datetime:
    """A timestamp on the store's clock (naive local time, as its updated_at stamps)."""
    return moment.astimezone().replace(tzinfo=None) if moment.tzinfo is not None else moment
