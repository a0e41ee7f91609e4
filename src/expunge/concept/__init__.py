"""Concept inference and poisoning-based class unlearning (Chang et al., arXiv 2405.15662), image half.

Importing this package registers the ``concept_shapes`` and ``fashion_mnist_concepts`` datasets,
the ``concept_poison`` and ``concept_patch`` unlearners, the ``concept_presence`` metric and the
``concept`` metric set.
"""

from . import datasets, fmnist_attributes, metrics, unlearn  # noqa: F401  (registrations)
from .attribution import ClassAttribution, choose_donor, class_attribution, integrated_gradients, linear_attribution, precision_at_m
from .bank import ConceptBank, ConceptDataError, concept_example_sets, embed, fit_bank
from .cbm import PosthocCBM, fit_cbm
from .datasets import CLASS_CONCEPTS, CONCEPT_NAMES, FAMILIES, ConceptTensorDataset, class_concepts
from .unlearn import ConceptAnalysis, ConceptPatch, ConceptPoison, analyse

__all__ = [
    "CLASS_CONCEPTS",
    "CONCEPT_NAMES",
    "FAMILIES",
    "ClassAttribution",
    "ConceptAnalysis",
    "ConceptBank",
    "ConceptDataError",
    "ConceptPatch",
    "ConceptPoison",
    "ConceptTensorDataset",
    "PosthocCBM",
    "analyse",
    "choose_donor",
    "class_attribution",
    "class_concepts",
    "concept_example_sets",
    "embed",
    "fit_bank",
    "fit_cbm",
    "integrated_gradients",
    "linear_attribution",
    "precision_at_m",
]
