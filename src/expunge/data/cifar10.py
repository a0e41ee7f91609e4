"""CIFAR-10 (Krizhevsky 2009) from the official *binary* archive, for paper-scale runs on a GPU.

The binary version is read instead of the python one because the latter is pickled, and
expunge never unpickles downloaded files. Searched in ``$EXPUNGE_DATA/cifar-10-batches-bin``
and ``~/.cache/expunge/cifar-10-batches-bin``; ``download_if_missing=True`` fetches
``cifar-10-binary.tar.gz`` and checks its MD5 before extracting. Inputs are scaled to
[0, 1] without normalization or augmentation, as in DEL's code.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import urllib.request
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError, DatasetNotFoundError
from .base import DatasetBundle, IndexedTensorDataset
from .registry import DATASETS

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
FOLDER = "cifar-10-batches-bin"
TRAIN_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)]
TEST_FILES = ["test_batch.bin"]
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
RECORD = 1 + 3 * 32 * 32


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "expunge"


def _candidates(root: str | None) -> list[Path]:
    bases = [Path(root)] if root else []
    if os.environ.get("EXPUNGE_DATA"):
        bases.append(Path(os.environ["EXPUNGE_DATA"]))
    bases.append(_cache_root())
    return [b / FOLDER for b in bases] + [b for b in bases]


def _find(root: str | None) -> Path | None:
    for folder in _candidates(root):
        if all((folder / f).exists() for f in TRAIN_FILES + TEST_FILES):
            return folder
    return None


def download(target: Path | None = None) -> Path:
    target = target or _cache_root()
    target.mkdir(parents=True, exist_ok=True)
    archive = target / "cifar-10-binary.tar.gz"
    if not archive.exists() or hashlib.md5(archive.read_bytes()).hexdigest() != MD5:
        urllib.request.urlretrieve(URL, archive)  # noqa: S310 - fixed official URL
        if hashlib.md5(archive.read_bytes()).hexdigest() != MD5:
            archive.unlink()
            raise DataError("CIFAR-10 download failed its checksum; try again.")
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return target / FOLDER


def read_batches(folder: Path, names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    raw = b"".join((folder / n).read_bytes() for n in names)
    if len(raw) % RECORD:
        raise DataError(f"CIFAR-10 files in {folder} are truncated; delete them and download again.")
    data = np.frombuffer(raw, dtype=np.uint8).reshape(-1, RECORD)
    labels = torch.from_numpy(data[:, 0].astype(np.int64))
    images = torch.from_numpy(data[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / 255.0)
    return images, labels


@DATASETS.register("cifar10", "CIFAR-10, 50k/10k 32x32 colour images (binary archive, checksummed download); DEL's main setting")
def load_cifar10(root: str | None = None, download_if_missing: bool = False) -> DatasetBundle:
    folder = _find(root)
    if folder is None and download_if_missing:
        folder = download()
    if folder is None:
        raise DatasetNotFoundError(
            f"CIFAR-10 binary files not found (looked in: {', '.join(map(str, _candidates(root)))}). "
            "Pass dataset.options.download_if_missing=true on a machine with internet, or put the extracted "
            f"{FOLDER}/ folder under $EXPUNGE_DATA."
        )
    train = IndexedTensorDataset(*read_batches(folder, TRAIN_FILES))
    test = IndexedTensorDataset(*read_batches(folder, TEST_FILES))
    return DatasetBundle("cifar10", train, test, 10, list(CLASS_NAMES), source=str(folder))
