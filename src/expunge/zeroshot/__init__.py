"""Zero-shot class unlearning: LRP relevance localization + neuronal path perturbation (arXiv 2410.23693).

Importing this package registers the ``relevance`` localizer in ``expunge.localize.LOCALIZERS``.
"""

from .graph import LRPGraph, register_sequencer, register_stage
from .localizer import NeuronRanking, NeuronScores, RelevanceLocalizer, rank_neurons
from .lrp import RULES, RelevanceResult, relevance, relevance_per_stage
from .method import PAPER_CONFIG, PATH_LADDER, ZeroShotConfig, ZeroShotResult, zero_shot_unlearn
from .perturb import PERTURBATIONS, NeuronPath, neuron_path, perturb
from .recipes import RECIPES, PaperRecipe, recipe_for, run_recipe
from .select import KpRule, Selection, auto_kp, fixed_kp

__all__ = [
    "PAPER_CONFIG",
    "PATH_LADDER",
    "PERTURBATIONS",
    "RECIPES",
    "PaperRecipe",
    "RULES",
    "KpRule",
    "LRPGraph",
    "NeuronPath",
    "NeuronRanking",
    "NeuronScores",
    "RelevanceLocalizer",
    "RelevanceResult",
    "Selection",
    "ZeroShotConfig",
    "ZeroShotResult",
    "auto_kp",
    "fixed_kp",
    "neuron_path",
    "perturb",
    "rank_neurons",
    "recipe_for",
    "run_recipe",
    "register_sequencer",
    "register_stage",
    "relevance",
    "relevance_per_stage",
    "zero_shot_unlearn",
]
