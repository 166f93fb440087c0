"""The model bundle: native LightGBM file, feature spec, the feature build it expects, checksums."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from features.checksums import file_sha256
from models.calibration import WinCalibrator
from models.config import SearchConfig
from models.cycle_time import CycleTimeModel
from models.ranker import TeamRanker

BUNDLE_FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
MODEL_FILE = "model.txt"
CALIBRATOR_FILE = "calibrator.json"
PRIOR_FILE = "prior.json"
# Optional: bundles without it (older ones, or trained without closed deals' dates) serve no days to close.
CYCLE_TIME_FILE = "cycle_time.txt"
# Artifact names inside the logged MLflow model.
BUNDLE_ARTIFACT = "bundle"
FEATURES_ARTIFACT = "features"


class BundleError(Exception):
    """A bundle that is missing, malformed or does not match its checksums.

    The message names files and checksums, for the operator's log; `public` says what went wrong without
    them, for API clients.
    """

    def __init__(self, message: str, public: str = "the model bundle failed verification") -> None:
        super().__init__(message)
        self.public = public


@dataclass
class BundleManifest:
    """What a bundle holds and what it needs; written as JSON, never pickled."""

    feature_names: list[str]
    feature_version: int
    feature_build_id: str
    embedder_id: str
    embedder_kind: str
    roles: list[str]
    trained_at: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    format_version: int = BUNDLE_FORMAT_VERSION
    # The search budget the model was evaluated with (SearchConfig fields); serving uses the same.
    search: dict[str, Any] = field(default_factory=dict)

    def recommender_config(self) -> SearchConfig:
        """The search settings the model was evaluated with (every bundle since format 1 records them)."""
        if not self.search:
            raise BundleError("the bundle records no search settings", "the model bundle is incomplete")
        return SearchConfig.model_validate(self.search)


def save_bundle(
    directory: Path, ranker: TeamRanker, manifest: BundleManifest, cycle_time: CycleTimeModel | None = None
) -> Path:
    """Write the model file, the calibrator (JSON numbers), the optional cycle-time model file and a
    manifest carrying their checksums."""
    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / MODEL_FILE
    ranker.save(model_path)
    manifest.checksums = {MODEL_FILE: file_sha256(model_path)}
    if cycle_time is not None:
        cycle_time.save(directory / CYCLE_TIME_FILE)
        manifest.checksums[CYCLE_TIME_FILE] = file_sha256(directory / CYCLE_TIME_FILE)
    if ranker.calibrator_ is not None:
        ranker.calibrator_.save(directory / CALIBRATOR_FILE)
        manifest.checksums[CALIBRATOR_FILE] = file_sha256(directory / CALIBRATOR_FILE)
    if ranker.prior_weights_:
        prior_path = directory / PRIOR_FILE
        prior_path.write_text(json.dumps(ranker.prior_weights_, indent=2, sort_keys=True))
        manifest.checksums[PRIOR_FILE] = file_sha256(prior_path)
    (directory / MANIFEST_FILE).write_text(json.dumps(asdict(manifest), indent=2, sort_keys=True))
    return directory


def read_manifest(directory: Path) -> BundleManifest:
    path = directory / MANIFEST_FILE
    if not path.is_file():
        raise BundleError(f"{directory} is not a bundle: {MANIFEST_FILE} is missing")
    try:
        raw = json.loads(path.read_text())
        manifest = BundleManifest(**raw)
    except (json.JSONDecodeError, TypeError) as exc:
        raise BundleError(f"{path} is not a valid bundle manifest: {exc}") from exc
    if manifest.format_version != BUNDLE_FORMAT_VERSION:
        raise BundleError(
            f"{path}: bundle format {manifest.format_version}, this build reads {BUNDLE_FORMAT_VERSION}"
        )
    return manifest


def verify_bundle(directory: Path) -> BundleManifest:
    """Check every file against the manifest's checksums before anything is loaded."""
    manifest = read_manifest(directory)
    if MODEL_FILE not in manifest.checksums:
        raise BundleError(f"{directory}: manifest has no checksum for {MODEL_FILE}")
    for name, expected in manifest.checksums.items():
        path = directory / name
        if not path.is_file():
            raise BundleError(f"{directory}: {name} is missing")
        actual = file_sha256(path)
        if actual != expected:
            raise BundleError(
                f"{directory}: {name} checksum mismatch (expected {expected[:12]}, got {actual[:12]})"
            )
    return manifest


@dataclass(frozen=True)
class Bundle:
    """A verified, loaded bundle; `cycle_time` is None when the bundle carries no cycle-time model."""

    manifest: BundleManifest
    ranker: TeamRanker
    cycle_time: CycleTimeModel | None = None


def open_bundle(directory: Path) -> Bundle:
    """Verify, then load every part: the ranker (see `load_bundle`) and the optional cycle-time model."""
    manifest, ranker = load_bundle(directory)
    cycle_time = None
    if CYCLE_TIME_FILE in manifest.checksums:
        try:
            cycle_time = CycleTimeModel.load(directory / CYCLE_TIME_FILE, manifest.feature_names)
        except Exception as exc:  # LightGBM raises its own error type on a malformed file
            raise BundleError(f"{directory}: cycle-time model cannot be loaded: {exc}") from exc
    return Bundle(manifest, ranker, cycle_time)


def load_bundle(directory: Path) -> tuple[BundleManifest, TeamRanker]:
    """Verify, then load the native model file and the calibrator's JSON (no unpickling anywhere)."""
    manifest = verify_bundle(directory)
    try:
        ranker = TeamRanker.load(directory / MODEL_FILE, manifest.feature_names)
    except Exception as exc:  # LightGBM raises its own error type on a malformed file
        raise BundleError(f"{directory}: model file cannot be loaded: {exc}") from exc
    if CALIBRATOR_FILE in manifest.checksums:
        try:
            ranker.calibrate(WinCalibrator.load(directory / CALIBRATOR_FILE))
        except (ValueError, KeyError, TypeError) as exc:
            raise BundleError(f"{directory}: calibrator cannot be loaded: {exc}") from exc
    if PRIOR_FILE in manifest.checksums:
        try:
            raw = json.loads((directory / PRIOR_FILE).read_text())
            ranker.prior_weights_ = {str(k): float(v) for k, v in raw.items()}
        except (json.JSONDecodeError, AttributeError, TypeError, ValueError) as exc:
            raise BundleError(f"{directory}: prior weights cannot be loaded: {exc}") from exc
    return manifest, ranker
