"""The served model: one reference swapped atomically on reload, after the new bundle passed verification."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Protocol

from core.settings import Settings
from features.records import OpportunityQuery
from features.snapshot import FeatureSnapshot
from models.bundle import BundleError
from models.registry import LoadedModel
from serving.ranking import Ranker

logger = logging.getLogger(__name__)


class ModelLoader(Protocol):
    def __call__(self, settings: Settings, version: str | None = None) -> LoadedModel: ...


# The version the registry names as challenger now (None: none is set); read at start and on reload.
ChallengerSource = Callable[[Settings], str | None]


@dataclass(frozen=True)
class Serving:
    """Everything a request needs from one model version; read once per request, never mutated."""

    model: LoadedModel
    ranker: Ranker

    @property
    def version(self) -> str:
        return self.model.version


class ReloadRefused(Exception):
    """The candidate bundle failed verification; the previous model keeps serving.

    `str(exc)` is the detail for the log (paths, checksums); `public` is what a client may be told.
    """

    def __init__(self, detail: str, public: str) -> None:
        super().__init__(detail)
        self.public = public


def public_reason(exc: Exception) -> str:
    """Why a model could not be loaded, without filesystem paths or checksums."""
    return exc.public if isinstance(exc, BundleError) else "the model could not be loaded"


def smoke_test(model: LoadedModel) -> None:
    """Answer one request end to end: a bundle that loads but cannot rank is refused too."""
    query = OpportunityQuery(
        as_of=date.today(), description="verification request", required_skills=("cloud",)
    )
    teams = model.recommender.recommend([query], k=1)[0].teams
    if teams and not math.isfinite(teams[0].score):
        raise BundleError(f"version {model.version} returned a non-finite score")


def _with_snapshot(serving: Serving, change: Callable[[FeatureSnapshot], FeatureSnapshot]) -> Serving:
    recommender = serving.model.recommender.with_snapshot(change(serving.ranker.snapshot))
    return Serving(model=replace(serving.model, recommender=recommender), ranker=Ranker(recommender))


class ModelHolder:
    """Holds the current `Serving`; a reload builds and checks the new one, then swaps a single reference.

    Requests take `holder.current` once, so each request sees one consistent version and none fails
    during a swap; the old model is dropped when its last request finishes. With a `challenger_source`
    it also holds the challenger (`holder.challenger`), which only shadow scoring reads: whatever
    happens to it (missing, failing to load), the champion serves as before.
    """

    def __init__(
        self,
        settings: Settings,
        loader: ModelLoader,
        refresh: Callable[[LoadedModel], LoadedModel] | None = None,
        challenger_source: ChallengerSource | None = None,
    ) -> None:
        self.settings = settings
        self.loader = loader
        # Applied to every loaded bundle before it serves (the store's partner changes since its snapshot).
        self.refresh = refresh
        self.current: Serving | None = None
        self.challenger_source = challenger_source
        self.challenger: Serving | None = None
        self.load_error: str | None = None
        self.load_exception: Exception | None = None
        self._reload_lock = threading.Lock()

    def update(self, change: Callable[[FeatureSnapshot], FeatureSnapshot]) -> bool:
        """Swap in a serving built from a new snapshot (`change` of the current one); False without a model.

        Readers keep the serving they took; writers and reloads take turns, so no change is lost.
        """
        with self._reload_lock:
            current = self.current
            if current is None:
                return False
            self.current = _with_snapshot(current, change)
            challenger = self.challenger
            if challenger is not None:
                # The challenger ranks the same partners as the champion, or its comparisons mean little.
                try:
                    self.challenger = _with_snapshot(challenger, change)
                except Exception as exc:  # noqa: BLE001 - the challenger never fails the champion's write
                    logger.warning("partner change not applied to challenger %s: %s", challenger.version, exc)
            return True

    def _build(self, version: str | None) -> Serving:
        model = self.loader(self.settings, version)
        if self.refresh is not None:
            model = self.refresh(model)
        smoke_test(model)
        return Serving(model=model, ranker=Ranker(model.recommender))

    def load_initial(self) -> None:
        try:
            self.current = self._build(None)
            self.load_error = None
            self.load_exception = None
            logger.info("serving model version %s", self.current.version)
        except Exception as exc:  # noqa: BLE001 - a bad bundle must not stop liveness
            # Stay up and say why: liveness holds, readiness and recommendations answer 503.
            self.load_error = str(exc)
            self.load_exception = exc
            logger.error("no model loaded: %s", exc)
        with self._reload_lock:
            self._refresh_challenger()

    @property
    def challenger_version(self) -> str | None:
        challenger = self.challenger
        return challenger.version if challenger else None

    def refresh_challenger(self) -> str | None:
        """Load the version the registry names as challenger now, or drop it; returns the one held."""
        with self._reload_lock:
            return self._refresh_challenger()

    def _refresh_challenger(self) -> str | None:
        if self.challenger_source is None:
            return None
        held = self.challenger
        try:
            version = self.challenger_source(self.settings)
            if version is None:
                self.challenger = None
            elif held is None or held.version != version:
                self.challenger = self._build(version)
                logger.info("shadow scoring with challenger version %s", version)
        except Exception as exc:  # noqa: BLE001 - a challenger that cannot load is ignored, never fatal
            logger.error("challenger not loaded, the champion serves alone: %s", exc)
            self.challenger = None
        if held is not None and self.challenger is None:
            logger.info("challenger %s dropped", held.version)
        return self.challenger_version

    def reload(self, version: str | None = None) -> tuple[str | None, str]:
        """Load `version` (default: the champion), verify it and swap; returns (previous, new) versions."""
        with self._reload_lock:
            previous = self.current.version if self.current else None
            try:
                candidate = self._build(version)
            except Exception as exc:  # noqa: BLE001 - whatever breaks, the old model keeps serving
                logger.error("reload refused, still serving %s: %s", previous, exc)
                raise ReloadRefused(str(exc), public_reason(exc)) from exc
            self.current = candidate  # the swap: one reference assignment
            self.load_error = None
            self.load_exception = None
            logger.info("model swapped: %s -> %s", previous, candidate.version)
            self._refresh_challenger()
            return previous, candidate.version
