"""``concept_shapes``: images built from known parts, so that concept identification can be scored.

Every image is drawn from five concept *families*; each class is one documented combination
(``CLASS_CONCEPTS``), one value per family, so every class has exactly five true concepts:

=========  ==========================================  ================================================
family     values                                       how it is drawn (24x24 grey image)
=========  ==========================================  ================================================
shape      square, circle, triangle, cross              a 10x10 object
texture    solid, stripes, checker                      the object's fill (2-px horizontal stripes or
                                                        2-px checks)
stroke     hbar, vbar, diag                             a line mark in the other half of the image
weight     thin, thick                                  the mark's width (1 or 2 px)
position   left, right                                  which half holds the object (the mark takes the
                                                        other half)
=========  ==========================================  ================================================

Per image, each family keeps its class's value with probability ``keep`` (0.9) and otherwise
takes another value of that family uniformly; the values actually drawn are stored per image
(``concept_labels``), so concept example sets are exact. Position jitters within the half,
intensity varies in [0.7, 1] and Gaussian noise (``noise``) is added.

Classes 0 and 1 differ only in texture, 2 and 3 in weight and position, 4 and 5 in texture and
position: the donor a method picks for them can be checked against the table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.base import DatasetBundle, IndexedTensorDataset
from ..data.registry import DATASETS
from ..errors import DataError

FAMILIES: dict[str, list[str]] = {
    "shape": ["square", "circle", "triangle", "cross"],
    "texture": ["solid", "stripes", "checker"],
    "stroke": ["hbar", "vbar", "diag"],
    "weight": ["thin", "thick"],
    "position": ["left", "right"],
}
CONCEPT_NAMES: list[str] = [f"{family}:{value}" for family, values in FAMILIES.items() for value in values]

# One value per family, in FAMILIES order.
CLASS_CONCEPTS: list[tuple[str, str, str, str, str]] = [
    ("square", "solid", "hbar", "thin", "left"),
    ("square", "stripes", "hbar", "thin", "left"),
    ("circle", "checker", "vbar", "thick", "right"),
    ("circle", "checker", "vbar", "thin", "left"),
    ("triangle", "solid", "diag", "thick", "right"),
    ("triangle", "stripes", "diag", "thick", "left"),
    ("cross", "checker", "hbar", "thick", "right"),
    ("cross", "solid", "vbar", "thin", "right"),
    ("circle", "stripes", "diag", "thin", "right"),
    ("square", "checker", "diag", "thick", "left"),
]
OBJECT = 10


def class_concepts(cls: int) -> list[str]:
    """The five true concepts of class ``cls`` as bank names (``family:value``)."""
    return [f"{family}:{value}" for family, value in zip(FAMILIES, CLASS_CONCEPTS[cls])]


def class_name(cls: int) -> str:
    return "-".join(CLASS_CONCEPTS[cls])


@dataclass(frozen=True)
class SeparateConceptImages:
    """Where a dataset draws concept images that are *not* its classes' training images (the paper's route).

    ``draw(n, seed)`` returns ``(images, labels (n, K) bool, names)``: images labelled only by concept, drawn
    with every concept family independent of the others and of any class, so a bank fitted on them learns the
    concepts apart from the class compositions of the training data.
    """

    image_size: int = 24
    noise: float = 0.25

    def draw(self, n: int, seed: int) -> tuple[torch.Tensor, np.ndarray, list[str]]:
        if n < 1:
            raise DataError(f"separate concept images: n must be >= 1, got {n}.")
        rng = np.random.default_rng(seed)
        images = np.empty((n, 1, self.image_size, self.image_size), dtype=np.float32)
        labels = np.zeros((n, len(CONCEPT_NAMES)), dtype=bool)
        for i in range(n):
            values = {family: str(rng.choice(options)) for family, options in FAMILIES.items()}
            for family, value in values.items():
                labels[i, CONCEPT_NAMES.index(f"{family}:{value}")] = True
            images[i, 0] = render(values, rng, self.image_size, self.noise)
        return torch.from_numpy(images), labels, list(CONCEPT_NAMES)


class ConceptTensorDataset(IndexedTensorDataset):
    """An in-memory dataset whose examples also carry boolean concept labels ``(n, K)``.

    ``separate_concepts``: a source of concept images apart from the training images, when the dataset has one.
    """

    def __init__(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        concept_labels: torch.Tensor,
        concept_names: list[str],
        class_table: dict[int, list[str]] | None = None,
        separate_concepts: SeparateConceptImages | None = None,
    ) -> None:
        super().__init__(inputs, targets)
        self.separate_concepts = separate_concepts
        if concept_labels.shape != (len(targets), len(concept_names)):
            raise DataError(f"concept_labels must have shape ({len(targets)}, {len(concept_names)}), got {tuple(concept_labels.shape)}.")
        self.concept_labels = concept_labels.bool()
        self.concept_names = list(concept_names)
        self.class_table = class_table  # each class's true concepts, when the data was generated from such a table

    def true_class_concepts(self, cls: int) -> list[str] | None:
        """The class's true concepts (what precision@M is scored against), or None when the dataset has no such table."""
        return None if self.class_table is None else list(self.class_table.get(int(cls), []))


def _shape_mask(shape: str) -> np.ndarray:
    r, c = np.mgrid[0:OBJECT, 0:OBJECT]
    centre = (OBJECT - 1) / 2
    if shape == "square":
        return (r >= 1) & (r <= OBJECT - 2) & (c >= 1) & (c <= OBJECT - 2)
    if shape == "circle":
        return (r - centre) ** 2 + (c - centre) ** 2 <= 4.6**2
    if shape == "triangle":
        return (r >= 1) & (np.abs(c - centre) <= (r - 1) * 0.5 + 0.5)
    if shape == "cross":
        return (np.abs(r - centre) <= 1.6) | (np.abs(c - centre) <= 1.6)
    raise DataError(f"unknown shape {shape!r}")


def _texture(texture: str) -> np.ndarray:
    r, c = np.mgrid[0:OBJECT, 0:OBJECT]
    if texture == "solid":
        return np.ones((OBJECT, OBJECT), dtype=bool)
    if texture == "stripes":
        return (r // 2) % 2 == 0
    if texture == "checker":
        return ((r // 2) + (c // 2)) % 2 == 0
    raise DataError(f"unknown texture {texture!r}")


def _mark(stroke: str, weight: str, rng: np.random.Generator) -> np.ndarray:
    """A 12x12 canvas holding the line mark."""
    canvas = np.zeros((12, 12), dtype=bool)
    width = 1 if weight == "thin" else 2
    length = 8
    start = int(rng.integers(1, 12 - length))
    offset = int(rng.integers(2, 10 - width))
    if stroke == "hbar":
        canvas[offset : offset + width, start : start + length] = True
    elif stroke == "vbar":
        canvas[start : start + length, offset : offset + width] = True
    elif stroke == "diag":
        for i in range(length):
            canvas[2 + i, 2 + i : 2 + i + width] = True
    else:
        raise DataError(f"unknown stroke {stroke!r}")
    return canvas


def render(values: dict[str, str], rng: np.random.Generator, image_size: int = 24, noise: float = 0.25) -> np.ndarray:
    """One image with the given value per family."""
    if image_size < 24:
        raise DataError(f"concept_shapes needs image_size >= 24, got {image_size}.")
    img = np.zeros((image_size, image_size), dtype=np.float32)
    half = image_size // 2
    obj = (_shape_mask(values["shape"]) & _texture(values["texture"])).astype(np.float32) * rng.uniform(0.7, 1.0)
    y = int(rng.integers(0, image_size - OBJECT + 1))
    x_left = values["position"] == "left"
    x = int(rng.integers(0, half - OBJECT + 1)) if x_left else half + int(rng.integers(0, image_size - half - OBJECT + 1))
    img[y : y + OBJECT, x : x + OBJECT] = np.maximum(img[y : y + OBJECT, x : x + OBJECT], obj)
    mark = _mark(values["stroke"], values["weight"], rng).astype(np.float32) * rng.uniform(0.7, 1.0)
    my = int(rng.integers(0, image_size - 12 + 1))
    mx = half if x_left else 0
    img[my : my + 12, mx : mx + 12] = np.maximum(img[my : my + 12, mx : mx + 12], mark)
    return img + noise * rng.standard_normal(img.shape).astype(np.float32)


def generate(n: int, rng: np.random.Generator, keep: float = 0.9, image_size: int = 24, noise: float = 0.25) -> ConceptTensorDataset:
    num_classes = len(CLASS_CONCEPTS)
    labels = np.arange(n) % num_classes
    rng.shuffle(labels)
    images = np.empty((n, 1, image_size, image_size), dtype=np.float32)
    concepts = np.zeros((n, len(CONCEPT_NAMES)), dtype=bool)
    for i, cls in enumerate(labels):
        values = {}
        for family, value in zip(FAMILIES, CLASS_CONCEPTS[cls]):
            if rng.random() >= keep:
                value = str(rng.choice([v for v in FAMILIES[family] if v != value]))
            values[family] = value
            concepts[i, CONCEPT_NAMES.index(f"{family}:{value}")] = True
        images[i, 0] = render(values, rng, image_size, noise)
    table = {c: class_concepts(c) for c in range(num_classes)}
    source = SeparateConceptImages(image_size, noise)
    return ConceptTensorDataset(torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64)), torch.from_numpy(concepts), CONCEPT_NAMES, table, source)


@DATASETS.register("concept_shapes", "generated shapes/textures/strokes/positions with per-image concept ground truth (10 classes)")
def load_concept_shapes(num_train: int = 3000, num_test: int = 1000, keep: float = 0.9, noise: float = 0.25, image_size: int = 24, seed: int = 0) -> DatasetBundle:
    if not 0.0 < keep <= 1.0:
        raise DataError(f"keep must be in (0, 1], got {keep}.")
    rng = np.random.default_rng(seed)
    train = generate(num_train, rng, keep, image_size, noise)
    test = generate(num_test, rng, keep, image_size, noise)
    return DatasetBundle("concept_shapes", train, test, len(CLASS_CONCEPTS), [class_name(c) for c in range(len(CLASS_CONCEPTS))], source="generated")
