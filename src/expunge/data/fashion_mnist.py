"""Fashion-MNIST (Xiao et al., 2017) read from its idx files.

Searched in ``$EXPUNGE_DATA/fashion-mnist``, ``$EXPUNGE_DATA``, Debian's
``/usr/share/datasets/fashion-mnist`` (``apt-get install dataset-fashion-mnist``) and
``~/.cache/expunge/fashion-mnist``; with ``download=True`` the official files are fetched
into the cache and verified against their published MD5 sums.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.request
import zlib
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError, DatasetNotFoundError
from .base import DatasetBundle, IndexedTensorDataset
from .registry import DATASETS

BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FILES = {
    "train_images": ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    "train_labels": ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
    "test_images": ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
}
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
# Per-pixel statistics of the Fashion-MNIST training set, used to standardise inputs.
MEAN, STD = 0.2860, 0.3530


def candidate_dirs(root: str | Path | None = None) -> list[Path]:
    dirs: list[Path] = []
    if root is not None:
        dirs.append(Path(root))
    env = os.environ.get("EXPUNGE_DATA")
    if env:
        dirs += [Path(env) / "fashion-mnist", Path(env)]
    dirs.append(DEBIAN_DIR)
    dirs.append(cache_dir())
    return dirs


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "expunge" / "fashion-mnist"


def _find(root: str | Path | None) -> Path | None:
    for folder in candidate_dirs(root):
        if all((folder / name).exists() or (folder / name[:-3]).exists() for name, _ in FILES.values()):
            return folder
    return None


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(target: Path | None = None) -> Path:
    """Fetch the four official files and check their MD5 sums; a mismatch deletes the file."""
    target = target or cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    for name, md5 in FILES.values():
        path = target / name
        if path.exists() and _md5(path) == md5:
            continue
        tmp = path.with_suffix(".part")
        urllib.request.urlretrieve(BASE_URL + name, tmp)  # noqa: S310 - fixed https/http URL
        if _md5(tmp) != md5:
            tmp.unlink()
            raise DataError(f"checksum mismatch for {name}: the download is corrupt; try again.")
        tmp.replace(path)
    return target


def read_idx(path: Path) -> np.ndarray:
    """Read an idx file (gzipped or not): magic, dims, then unsigned bytes."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (EOFError, OSError, zlib.error) as exc:  # a cut-off or damaged .gz: name the file and the fix
        raise DataError(
            f"{path} is truncated or damaged ({type(exc).__name__}: {exc}); reinstall it with "
            "`sudo apt-get install --reinstall dataset-fashion-mnist`, or delete it and re-download (dataset.options.download_if_missing=true)."
        ) from exc
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte idx file; re-install or re-download it.")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(data) - offset != expected:
        raise DataError(f"{path} is truncated ({len(data) - offset} of {expected} bytes); re-install it.")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def _read(folder: Path, key: str) -> np.ndarray:
    name = FILES[key][0]
    path = folder / name if (folder / name).exists() else folder / name[:-3]
    return read_idx(path)


@DATASETS.register("fashion_mnist", "Fashion-MNIST, 60k/10k 28x28 grey images, 10 classes (Xiao et al. 2017)")
def load_fashion_mnist(root: str | None = None, download_if_missing: bool = False) -> DatasetBundle:
    folder = _find(root)
    if folder is None and download_if_missing:
        folder = download()
    if folder is None:
        looked = ", ".join(str(d) for d in candidate_dirs(root))
        raise DatasetNotFoundError(
            "Fashion-MNIST idx files not found (looked in: " + looked + "). Install them with "
            "`sudo apt-get install -y dataset-fashion-mnist`, point $EXPUNGE_DATA at a folder holding "
            "the four *-ubyte.gz files, or pass dataset.download=true on a machine with internet."
        )

    def to_tensor(images: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
        return (x - MEAN) / STD

    train = IndexedTensorDataset(to_tensor(_read(folder, "train_images")), torch.from_numpy(_read(folder, "train_labels").astype(np.int64)))
    test = IndexedTensorDataset(to_tensor(_read(folder, "test_images")), torch.from_numpy(_read(folder, "test_labels").astype(np.int64)))
    return DatasetBundle("fashion_mnist", train, test, 10, list(CLASS_NAMES), source=str(folder))
