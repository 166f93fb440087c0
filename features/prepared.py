"""An opportunity made ready for retrieval and features: its text and skill needs embedded, once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.records import OpportunityQuery


@dataclass(frozen=True)
class PreparedOpportunity:
    """An opportunity with its text and required-skill phrases embedded (rows align with required_skills).

    `association` holds the (needs, phrases) tag associations of the vocabulary it was prepared with
    (`vocabulary_id`); a snapshot with another vocabulary recomputes them.
    """

    query: OpportunityQuery
    vector: np.ndarray
    skill_vectors: np.ndarray
    association: np.ndarray | None = None
    vocabulary_id: int = -1

    @property
    def needs(self) -> np.ndarray:
        """What tags and certifications are matched against: the skill phrases, else the opportunity text."""
        return self.skill_vectors if len(self.skill_vectors) else self.vector.reshape(1, -1)
