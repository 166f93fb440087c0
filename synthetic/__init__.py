"""Synthetic PRM ecosystems with a hidden win model, for tests, demos and ground-truth evaluation."""

from synthetic.ecosystem import SyntheticEcosystem, generate_ecosystem, write
from synthetic.truth import GroundTruth, WinModel

__all__ = ["GroundTruth", "SyntheticEcosystem", "WinModel", "generate_ecosystem", "write"]
