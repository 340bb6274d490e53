"""``data=cub`` / ``data=oxford102``: the released StackGAN layout (CUB-200-2011, Oxford-102 flowers).

```
<root>/train/char-CNN-RNN-embeddings.pickle   (N, 10, 1024): ten caption embeddings per image
<root>/train/filenames.pickle                 N names such as 002.Laysan_Albatross/Laysan_Albatross_0002_1027
<root>/train/class_info.pickle                N class ids (1-based)
<root>/test/…                                 the same three files
<root>/images/<name>.jpg  or  <root>/CUB_200_2011/images/<name>.jpg  or  <root>/<name>.jpg   (Oxford: jpg/…)
<root>/text_c10/<name>.txt  or  <root>/text/<name>.txt   (optional: the captions, one a line)
```
The pickles were written by Python 2: they are read with ``encoding="latin1"`` by an unpickler that builds numpy
arrays, lists, strings and numbers and refuses anything else (:mod:`gan_lab.data.safe_pickle`); their contents are
checked (shapes, types, finite values, 1-based class ids, names inside ``root``) with one-line errors. With
``CUB_200_2011/bounding_boxes.txt`` and ``images.txt`` present, birds are cropped to 1.5× their box (as the
released StackGAN code does). Batches are ``(images, classes, embeddings)`` like every captioned set; free text
cannot be encoded (the char-CNN-RNN encoder is not part of the release).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.transforms.v2.functional import pil_to_tensor

from gan_lab.data.captioned import CaptionedDataModule, CaptionedImages
from gan_lab.data.datamodule import FitImage
from gan_lab.data.safe_pickle import load_data_pickle
from gan_lab.errors import ConfigError, DatasetError, DatasetNotFoundError

FILES = ("char-CNN-RNN-embeddings.pickle", "filenames.pickle", "class_info.pickle")
IMAGE_DIRS = ("images", "CUB_200_2011/images", ".")
TEXT_DIRS = ("text_c10", "text")


def read_embeddings(path: Path) -> torch.Tensor:
    """(N, K, E) float32 caption embeddings (an (N, E) file gives K = 1), finite, or a one-line DatasetError."""
    data = load_data_pickle(path)
    try:
        array = np.asarray(data)
        if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
            raise ValueError(f"{array.dtype} values")
        array = array.astype(np.float32)
    except (ValueError, TypeError, OverflowError) as err:
        raise DatasetError(
            f"{path} must hold numbers shaped (images, captions, dimensions), e.g. (N, 10, 1024); "
            f"it holds {_what(data)} ({' '.join(str(err).split())[:120]})"
        ) from None
    if array.ndim not in (2, 3) or array.size == 0:
        raise DatasetError(
            f"{path} holds an array shaped {tuple(array.shape)}: the embeddings must be shaped "
            "(images, captions, dimensions), e.g. (N, 10, 1024), or (images, dimensions)"
        )
    if not np.isfinite(array).all():
        raise DatasetError(
            f"{path} holds NaN or infinite embedding values ({int((~np.isfinite(array)).sum())} of "
            f"{array.size}): the file is damaged; use the released one"
        )
    embeddings = torch.from_numpy(array)
    return embeddings[:, None] if embeddings.ndim == 2 else embeddings


def read_names(path: Path) -> list[str]:
    """The image names (relative paths without extension), each inside the layout, or a one-line DatasetError."""
    data = load_data_pickle(path)
    items = list(data) if isinstance(data, (list, tuple, np.ndarray)) else None
    if items is None or not all(isinstance(n, (str, bytes, np.str_, np.bytes_)) for n in items):
        raise DatasetError(
            f"{path} must hold a list of image names (strings such as "
            f"002.Laysan_Albatross/Laysan_Albatross_0002_1027); it holds {_what(data)}"
        )
    names = [n.decode("latin1") if isinstance(n, bytes) else str(n) for n in items]
    for name in names:
        if not name or "\0" in name or Path(name).is_absolute() or ".." in Path(name).parts:
            raise DatasetError(
                f"{path} names the image {name!r}: names must be relative paths inside data.root "
                "(no absolute path, no '..')"
            )
    return names


def read_classes(path: Path) -> torch.Tensor:
    """The 1-based class ids of the images as given in the file, or a one-line DatasetError."""
    data = load_data_pickle(path)
    try:
        array = np.asarray(data)
        if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
            raise ValueError(f"{array.dtype} values")
        if array.ndim > 1 and array.size == len(array):
            array = array.reshape(-1)
        if array.ndim != 1 or not np.isfinite(array).all() or (array != np.round(array)).any():
            raise ValueError(f"shape {tuple(array.shape)}")
    except (ValueError, TypeError, OverflowError) as err:
        raise DatasetError(
            f"{path} must hold one whole-number class id per image (1-based); it holds {_what(data)} "
            f"({' '.join(str(err).split())[:120]})"
        ) from None
    return torch.from_numpy(array.astype(np.int64))


def _what(data) -> str:
    if isinstance(data, np.ndarray):
        return f"a {data.dtype} array shaped {tuple(data.shape)}"
    if isinstance(data, (list, tuple)):
        kinds = sorted({type(x).__name__ for x in data[:1000]})
        return f"a {type(data).__name__} of {len(data)} ({', '.join(kinds) or 'nothing'})"
    return f"a {type(data).__name__}"


def _bounding_boxes(root: Path) -> dict[str, tuple[float, float, float, float]]:
    """name (without extension) -> (x, y, width, height), when CUB's box files are there."""
    base = root / "CUB_200_2011"
    if not ((base / "bounding_boxes.txt").is_file() and (base / "images.txt").is_file()):
        return {}
    try:
        names = dict(line.split() for line in (base / "images.txt").read_text().splitlines() if line.strip())
        boxes = {}
        for line in (base / "bounding_boxes.txt").read_text().splitlines():
            if line.strip():
                key, x, y, w, h = line.split()
                boxes[str(Path(names[key]).with_suffix(""))] = (float(x), float(y), float(w), float(h))
    except (ValueError, KeyError, UnicodeDecodeError, OSError) as err:
        raise DatasetError(
            f"{base}/bounding_boxes.txt or images.txt is malformed ({type(err).__name__}: "
            f"{' '.join(str(err).split())[:120]}): each line must be '<id> <x> <y> <width> <height>' "
            "and '<id> <name>.jpg'; or set data.bbox_crop=false"
        ) from None
    return boxes


def _crop(image: Image.Image, box: tuple[float, float, float, float], name: str) -> Image.Image:
    x, y, w, h = box
    if not all(np.isfinite(box)):
        raise DatasetError(f"CUB_200_2011/bounding_boxes.txt gives {name} the box {box}: not finite numbers")
    r = int(max(w, h) * 0.75)
    cx, cy = int(x + w / 2), int(y + h / 2)
    area = (max(0, cx - r), max(0, cy - r), min(image.width, cx + r), min(image.height, cy + r))
    if area[0] >= area[2] or area[1] >= area[3]:
        raise DatasetError(
            f"CUB_200_2011/bounding_boxes.txt gives {name} the box {box}, which lies outside its "
            f"{image.width}×{image.height} image: fix the box or set data.bbox_crop=false"
        )
    return image.crop(area)


class StackGANLayoutDataModule(CaptionedDataModule):
    """Images (resized and centre-cropped to ``image_size``), class ids and the released caption embeddings.

    Args: root (the layout above); image_size; embedding_dim (1024 for the released files); num_classes (200 for
    CUB, 102 for Oxford-102; class ids are 1-based in the files, 0-based in batches); bbox_crop; and the
    shared batch_size, seed, batches_per_step, num_workers.
    """

    def __init__(
        self,
        root: str,
        image_size: int = 64,
        channels: int = 3,
        batch_size: int = 64,
        embedding_dim: int = 1024,
        num_classes: int = 200,
        bbox_crop: bool = True,
        seed: int = 0,
        batches_per_step: int = 1,
        num_workers: int = 0,
    ):
        super().__init__(
            image_size, channels, embedding_dim, num_classes, batch_size, seed, batches_per_step, num_workers
        )
        self.root, self.bbox_crop, self.fit = Path(root), bbox_crop, FitImage(image_size, channels)

    @property
    def name(self) -> str:
        return f"stackgan_layout:{self.root.resolve()}:{self.image_size}x{self.image_size}x{self.channels}"

    def _find(self, name: str, dirs: tuple[str, ...], suffixes: tuple[str, ...]) -> Path | None:
        for d in dirs:
            for suffix in suffixes:
                if (path := self.root / d / f"{name}{suffix}").is_file():
                    return path
        return None

    def make_split(self, train: bool) -> CaptionedImages:
        folder = self.root / ("train" if train else "test")
        missing = [f for f in FILES if not (folder / f).is_file()]
        if missing:
            raise DatasetNotFoundError(
                f"{folder} lacks {', '.join(missing)}: data.root must hold the released StackGAN layout "
                f"({{train,test}}/{{{','.join(FILES)}}} and the images under images/ or CUB_200_2011/images/)"
            )
        embeddings = read_embeddings(folder / FILES[0])
        names = read_names(folder / FILES[1])
        classes = read_classes(folder / FILES[2]) - 1
        if not names:
            raise DatasetError(f"{folder / FILES[1]} lists no image: the {folder.name} split is empty")
        if not len(embeddings) == len(names) == len(classes):
            raise DatasetNotFoundError(
                f"{folder}: {len(embeddings)} embeddings, {len(names)} file names and "
                f"{len(classes)} class ids: the three files must list the same images"
            )
        self.check_embedding_dim(embeddings.shape[-1], f"{folder / FILES[0]}")
        if classes.min() < 0:
            raise DatasetError(
                f"{folder / FILES[2]} holds class id {int(classes.min()) + 1}: the released files "
                f"number classes from 1 (1..data.num_classes={self.num_classes})"
            )
        if classes.max() >= self.num_classes:
            raise ConfigError(
                f"{folder / FILES[2]} holds class ids {int(classes.min()) + 1}..{int(classes.max()) + 1} "
                f"but data.num_classes={self.num_classes}: set it to at least {int(classes.max()) + 1}"
            )
        boxes = _bounding_boxes(self.root) if self.bbox_crop else {}
        images, captions = [], []
        for name in names:
            path = self._find(name, IMAGE_DIRS, (".jpg", ".png", ""))
            if path is None:
                raise DatasetNotFoundError(
                    f"image {name}.jpg not found under {self.root}/images/, "
                    f"{self.root}/CUB_200_2011/images/ or {self.root}/"
                )
            try:
                with Image.open(path) as image:
                    image = image.convert("RGB")
            except Exception as err:  # not an image, truncated, a decompression bomb, ...
                raise DatasetError(
                    f"cannot read the image {path} ({type(err).__name__}: "
                    f"{' '.join(str(err).split())[:120]}): replace it or remove {name} from the "
                    "split's files"
                ) from None
            if name in boxes:
                image = _crop(image, boxes[name], name)
            images.append(self.fit(pil_to_tensor(image)))
            text = self._find(name, TEXT_DIRS, (".txt",))
            try:
                captions.append(
                    [line.strip() for line in text.read_text(encoding="utf-8").splitlines() if line.strip()]
                    if text
                    else []
                )
            except (UnicodeDecodeError, OSError) as err:
                raise DatasetError(
                    f"cannot read the captions {text} ({type(err).__name__}): they must be UTF-8 "
                    "text, one caption a line"
                ) from None
        return CaptionedImages(
            torch.stack(images), classes, embeddings, captions if all(captions) else None, None, self.seed
        )

    def encode_text(self, captions: list[str]):
        raise ConfigError(
            f"{self.name} conditions on the released char-CNN-RNN embeddings; their text encoder is "
            "not part of the release, so new captions cannot be encoded (use data=shapes for free text)"
        )
