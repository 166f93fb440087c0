"""Synthetic PRM ecosystems with a hidden win model, for tests, demos and ground-truth evaluation."""

from synthetic.ecosystem import SyntheticEcosystem, generate_ecosystem, write
from synthetic.scenario import Scenario, ScenarioFileError, ScenarioSpec, load_scenarios
from synthetic.truth import GroundTruth, WinModel

__all__ = [
    "GroundTruth",
    "Scenario",
    "ScenarioFileError",
    "ScenarioSpec",
    "SyntheticEcosystem",
    "WinModel",
    "generate_ecosystem",
    "load_scenarios",
    "write",
]
