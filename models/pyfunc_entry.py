"""MLflow "model from code" entry: the registered model as a pyfunc (used by `mlflow models serve`).

MLflow executes this file to load the model; nothing else imports it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext

from core.settings import get_settings
from features import schema as s
from features.builds import BUILD_MANIFEST
from features.embedder_factory import make_embedder
from features.queries import queries_from_frame
from features.snapshot import FeatureSnapshot
from models.bundle import BUNDLE_ARTIFACT, FEATURES_ARTIFACT, open_bundle
from models.recommender import TeamRecommender


class PartnerTeamModel(PythonModel):
    """Opportunities in (contract columns), top-k teams out as JSON, through the same recommender."""

    def load_context(self, context: PythonModelContext) -> None:
        bundle = open_bundle(Path(context.artifacts[BUNDLE_ARTIFACT]))
        manifest = bundle.manifest
        features_dir = Path(context.artifacts[FEATURES_ARTIFACT])
        build = json.loads((features_dir / BUILD_MANIFEST).read_text())
        snapshot = FeatureSnapshot.load(
            features_dir,
            make_embedder(manifest.embedder_kind, cache_dir=get_settings().model_cache_dir),
            build["checksums"],
        )
        self.recommender = TeamRecommender(
            snapshot, bundle.ranker, manifest.recommender_config(), bundle.cycle_time
        )

    def predict(
        self, context: PythonModelContext, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        frame = model_input.copy()
        frame[s.CREATED_AT] = pd.to_datetime(frame[s.CREATED_AT])
        frame[s.REQUIRED_SKILLS] = [
            [tag for tag in str(cell or "").split(s.LIST_SEPARATOR) if tag]
            for cell in frame[s.REQUIRED_SKILLS]
        ]
        k = int((params or {}).get("k", 5))
        ranked = self.recommender.recommend(queries_from_frame(frame), k=k)
        return pd.DataFrame(
            {
                s.OPPORTUNITY_ID: frame[s.OPPORTUNITY_ID].astype(str),
                "teams": [json.dumps([t.to_record() for t in found.teams]) for found in ranked],
            }
        )


mlflow.models.set_model(PartnerTeamModel())
