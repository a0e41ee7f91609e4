"""Experiments: validated configs, the runner, the result store and reports."""

from .config import ExperimentConfig, MethodConfig, load_config
from .runner import run_experiment

__all__ = ["ExperimentConfig", "MethodConfig", "load_config", "run_experiment"]
