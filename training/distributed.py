"""Training sets and trees on a dask.distributed cluster: the connection, time partitions, the workers' side.

A run's feature snapshot is built once, on the client, and shipped to every worker in its own saved format
(`FeatureSnapshot.save`: parquet / npy / npz, never pickle); each worker loads it once. The deals to learn
from are cut into consecutive creation-date ranges, and each range runs the very function the single-process
path runs (`training.dataset.actual_team_examples` / `example_groups`) on its worker. Every feature of a deal
is read as of its own `created_at` from a history that is point in time by construction, so no partition
learns anything its deals could not have known. The blocks come back in date order: the training set is the
single-process one, row for row.

Trees (`num_boost_round > 0`) are grown by LightGBM's own Dask estimators on the rows where the workers
built them; the learned linear stage is fitted on the client on the collected design matrix (one row per
deal for the binary objective: 20k rows at the shipped cap), which is small beside the history behind it.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

import lightgbm as lgb
import numpy as np
import pandas as pd

from features import schema as s
from features.embedder_factory import make_embedder
from features.snapshot import FeatureSnapshot
from models.config import SearchConfig
from models.ranker import BoosterTrainer
from training.dataset import (
    ActualTeams,
    SplitConfig,
    TeamExamples,
    actual_team_examples,
    concat_actual_teams,
    concat_examples,
    example_groups,
)

if TYPE_CHECKING:
    from distributed import Client, Future

logger = logging.getLogger(__name__)

# Partitions per worker thread: enough that a slow partition does not leave the other worker idle for long,
# few enough that each still embeds its texts in large batches.
PARTITIONS_PER_THREAD: Final = 4
# A scheduler that does not answer within this many seconds is reported, not waited on.
CONNECT_TIMEOUT_SECONDS: Final = 30

T = TypeVar("T")


@contextmanager
def open_cluster(scheduler: str | None, workers: int | None) -> Iterator[Client | None]:
    """A client of the scheduler at `scheduler`, else of a LocalCluster of `workers` processes, else None:
    the run stays in this process. Local workers get one thread each: the per-deal feature code holds the
    GIL, so only processes put more cores to work."""
    if not scheduler and not workers:
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_SECONDS)
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
        try:
            yield client
        finally:
            client.close()
        return
    # No dashboard: it needs bokeh and a port, and a training run is watched through its progress bars.
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def describe(client: Client) -> str:
    """`tcp://host:port (N workers, M threads)`: where a run's training set was built."""
    threads = client.nthreads()
    address = client.scheduler_info().get("address", "?")
    return f"{address} ({len(threads)} workers, {sum(threads.values())} threads)"


def time_partitions(opportunities: pd.DataFrame, parts: int) -> list[pd.DataFrame]:
    """Consecutive creation-date ranges of deals already in creation order, about equal in size.

    A cut never falls inside one day, so each partition is a half-open date range [first, next first).
    """
    created = opportunities[s.CREATED_AT].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    if not pd.Index(created).is_monotonic_increasing:
        raise ValueError("opportunities must be in creation order to be partitioned by time")
    n = len(opportunities)
    if n == 0:
        return []
    nominal = np.linspace(0, n, max(parts, 1) + 1).round().astype(np.int64)[1:-1]
    # Move each cut back to the first deal of its day.
    cuts = np.unique(np.searchsorted(created, created[np.minimum(nominal, n - 1)], side="left"))
    bounds = [0, *(int(c) for c in cuts if 0 < c < n), n]
    return [opportunities.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


@dataclass(frozen=True)
class SnapshotFiles:
    """A feature snapshot as its saved files, and the embedder kind that reads new opportunity texts."""

    token: str  # the files' combined checksum: a worker loads each snapshot once
    files: dict[str, bytes]
    checksums: dict[str, str]
    embedder_kind: str
    model_cache_dir: str | None

    @classmethod
    def of(cls, snapshot: FeatureSnapshot, embedder_kind: str, model_cache_dir: Path | None) -> SnapshotFiles:
        with tempfile.TemporaryDirectory(prefix="pm-snapshot-") as tmp:
            checksums = snapshot.save(Path(tmp))
            files = {name: (Path(tmp) / name).read_bytes() for name in checksums}
        token = "-".join(checksums[name][:12] for name in sorted(checksums))
        return cls(token, files, checksums, embedder_kind, str(model_cache_dir) if model_cache_dir else None)

    def load(self) -> FeatureSnapshot:
        cache_dir = Path(self.model_cache_dir) if self.model_cache_dir else None
        embedder = make_embedder(self.embedder_kind, cache_dir=cache_dir)
        with tempfile.TemporaryDirectory(prefix="pm-snapshot-") as tmp:
            for name, data in self.files.items():
                (Path(tmp) / name).write_bytes(data)
            return FeatureSnapshot.load(Path(tmp), embedder, self.checksums)


# -- the workers' side: module-level functions, so a task names them instead of pickling code -------------
_loaded: dict[str, FeatureSnapshot] = {}
_loading = threading.Lock()


def worker_snapshot(files: SnapshotFiles) -> FeatureSnapshot:
    """This worker process's copy of the run's snapshot (only the latest run's is kept)."""
    with _loading:
        snapshot = _loaded.get(files.token)
        if snapshot is None:
            _loaded.clear()
            snapshot = _loaded[files.token] = files.load()
        return snapshot


def _forget(token: str) -> None:
    """Drop this worker's copy of a run's snapshot: a long-lived cluster outlives the runs it served."""
    with _loading:
        _loaded.pop(token, None)


def _actual_partition(files: SnapshotFiles, opportunities: pd.DataFrame, seats: pd.DataFrame) -> ActualTeams:
    return actual_team_examples(worker_snapshot(files), opportunities, seats)


def _example_partition(
    files: SnapshotFiles,
    opportunities: pd.DataFrame,
    seats: pd.DataFrame,
    search: SearchConfig,
    split: SplitConfig,
) -> TeamExamples:
    return example_groups(worker_snapshot(files), opportunities, seats, search, split)


def _features(part: ActualTeams | TeamExamples) -> np.ndarray:
    return part.features


def _binary_labels(part: ActualTeams) -> np.ndarray:
    return part.won.astype(np.int32)


def _graded_labels(part: TeamExamples) -> np.ndarray:
    return part.labels


def _group_sizes(part: TeamExamples) -> np.ndarray:
    return np.asarray(part.group_sizes, dtype=np.int64)


def _lightgbm_to_logging() -> None:
    """Send this worker's LightGBM messages to `logging`: its network set-up prints a dozen lines."""
    lgb.register_logger(logging.getLogger("lightgbm"))


def _margin(part: ActualTeams | TeamExamples, weights: np.ndarray | None) -> np.ndarray:
    """The linear stage's margin, where the trees start (zero without a linear stage)."""
    if weights is None:
        return np.zeros(part.features.shape[0])
    return part.features.astype(np.float64) @ weights


# -- the client's side ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cluster:
    """A connected client, and how its workers embed opportunity texts: with the run's embedder kind."""

    client: Client
    embedder_kind: str
    model_cache_dir: Path | None = None
    partitions: int | None = None  # time partitions per training set; None: PARTITIONS_PER_THREAD each

    def share(self, snapshot: FeatureSnapshot) -> SharedSnapshot:
        return SharedSnapshot(
            self.client, snapshot, self.embedder_kind, self.model_cache_dir, self.partitions
        )

    def mapper(self) -> DaskMapper:
        """The feature build's parallel parts (compatibility checkpoints, description words) there."""
        return DaskMapper(self.client)


@dataclass(frozen=True)
class DaskMapper:
    """A `features.parallel.Mapper` over a cluster: each piece is one task, its shared arguments are sent
    to every worker once."""

    client: Client

    @property
    def slots(self) -> int:
        return max(sum(self.client.nthreads().values()), 1)

    def map(self, fn: Callable[..., T], items: Sequence[Any], *shared: Any) -> Callable[[], list[T]]:
        # Arrays and frames are scattered once; small values (counts, sizes) travel inside each task.
        scattered: dict[int, Future] = {
            i: self.client.scatter(value, broadcast=True, hash=False)
            for i, value in enumerate(shared)
            if isinstance(value, np.ndarray | pd.DataFrame)
        }
        arguments = [scattered.get(i, value) for i, value in enumerate(shared)]
        futures = [self.client.submit(fn, item, *arguments, pure=False) for item in items]

        def gather() -> list[T]:
            try:
                return list(self.client.gather(futures))
            finally:  # the workers may drop the pieces' inputs and results now
                for future in (*futures, *scattered.values()):
                    future.release()

        return gather


@dataclass
class Partitioned(Generic[T]):
    """A training set built in partitions: the blocks left on the workers and their concatenation here."""

    futures: list[Future]
    rows: list[int]  # per partition
    groups: list[int]  # per partition: deals with a group of rows (lambdarank) or a row (binary)
    value: T


class SharedSnapshot:
    """The run's feature snapshot on every worker of a cluster, and the training sets built from it there."""

    def __init__(
        self,
        client: Client,
        snapshot: FeatureSnapshot,
        embedder_kind: str,
        model_cache_dir: Path | None = None,
        partitions: int | None = None,
    ) -> None:
        self.client = client
        self.width = len(snapshot.feature_names)
        self.partitions = partitions or PARTITIONS_PER_THREAD * max(sum(client.nthreads().values()), 1)
        files = SnapshotFiles.of(snapshot, embedder_kind, model_cache_dir)
        self._token = files.token
        size_mb = sum(map(len, files.files.values())) / 2**20
        logger.info("sending the %.0f MB feature snapshot to %s", size_mb, describe(client))
        # Once to every worker, instead of once per task.
        self._files: Future = client.scatter(files, broadcast=True, hash=False)

    def actual_team_examples(
        self,
        opportunities: pd.DataFrame,
        deal_partners: pd.DataFrame,
        progress: Callable[[int], None] | None = None,
    ) -> Partitioned[ActualTeams]:
        """`training.dataset.actual_team_examples`, one time partition per task."""
        futures, sizes = self._map(_actual_partition, opportunities, deal_partners)
        parts: list[ActualTeams] = self._gather(futures, sizes, progress)
        rows = [len(p.won) for p in parts]
        return Partitioned(futures, rows, rows, concat_actual_teams(parts, self.width))

    def build_examples(
        self,
        opportunities: pd.DataFrame,
        deal_partners: pd.DataFrame,
        search: SearchConfig,
        split: SplitConfig,
        progress: Callable[[int], None] | None = None,
    ) -> Partitioned[TeamExamples]:
        """`training.dataset.build_examples`, one time partition per task."""
        futures, sizes = self._map(_example_partition, opportunities, deal_partners, search, split)
        parts: list[TeamExamples] = self._gather(futures, sizes, progress)
        rows = [p.features.shape[0] for p in parts]
        groups = [len(p.group_sizes) for p in parts]
        return Partitioned(futures, rows, groups, concat_examples(parts, self.width))

    def booster_trainer(
        self, examples: Partitioned[ActualTeams] | Partitioned[TeamExamples], feature_names: Sequence[str]
    ) -> BoosterTrainer:
        """Grows the ranker's trees with lightgbm.dask on the blocks where the workers built them."""

        def train(params: dict[str, Any], linear: np.ndarray | None, rounds: int) -> lgb.Booster:
            import dask
            import dask.array as da
            from lightgbm.dask import DaskLGBMClassifier, DaskLGBMRanker

            ranking = params["objective"] == "lambdarank"
            # Empty partitions (no deal with a known team) would be empty LightGBM datasets: left out.
            kept = [
                (f, n, g)
                for f, n, g in zip(examples.futures, examples.rows, examples.groups, strict=True)
                if n > 0
            ]

            def column(
                fn: Callable[..., np.ndarray], shape: Callable[[int, int], tuple[int, ...]], dtype: Any
            ) -> Any:
                """One dask array over the partitions' blocks, each computed where its block lives."""
                return da.concatenate(
                    [da.from_delayed(dask.delayed(fn)(f), shape=shape(n, g), dtype=dtype) for f, n, g in kept]
                )

            width = len(feature_names)
            x = column(_features, lambda n, g: (n, width), np.float32)
            y = column(_graded_labels if ranking else _binary_labels, lambda n, g: (n,), np.int32)
            margin = column(partial(_margin, weights=linear), lambda n, g: (n,), np.float64)
            # lightgbm.dask sets each worker's threads itself and warns about the ones we would set; the
            # ranker's `eval_at` is a fit argument there (and unused: nothing is evaluated while fitting).
            local = {k: v for k, v in params.items() if k not in ("num_threads", "eval_at")}
            self.client.run(_lightgbm_to_logging)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Parameter .* will be ignored")
                if ranking:
                    group = column(_group_sizes, lambda n, g: (g,), np.int64)
                    ranker = DaskLGBMRanker(client=self.client, n_estimators=rounds, **local)
                    ranker.fit(x, y, group=group, init_score=margin, feature_name=list(feature_names))
                    return ranker.booster_
                classifier = DaskLGBMClassifier(client=self.client, n_estimators=rounds, **local)
                classifier.fit(x, y, init_score=margin, feature_name=list(feature_names))
                return classifier.booster_

        return train

    def release(self) -> None:
        """Let the workers drop the snapshot: its files and their loaded copies."""
        self._files.release()
        self.client.run(_forget, self._token)

    def _map(
        self, fn: Callable[..., T], opportunities: pd.DataFrame, deal_partners: pd.DataFrame, *args: Any
    ) -> tuple[list[Future], list[int]]:
        futures: list[Future] = []
        sizes: list[int] = []
        for part in time_partitions(opportunities, self.partitions):
            seats = deal_partners[deal_partners[s.OPPORTUNITY_ID].isin(part[s.OPPORTUNITY_ID])]
            futures.append(self.client.submit(fn, self._files, part, seats, *args, pure=False))
            sizes.append(len(part))
        return futures, sizes

    def _gather(
        self, futures: list[Future], sizes: list[int], progress: Callable[[int], None] | None
    ) -> list[Any]:
        from distributed import as_completed

        size_of = {f.key: n for f, n in zip(futures, sizes, strict=True)}
        for done in as_completed(futures):
            if progress:
                progress(size_of[done.key])
        return list(self.client.gather(futures))
