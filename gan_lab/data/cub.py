"""``data=cub`` / ``data=oxford102``: the released StackGAN layout (CUB-200-2011, Oxford-102 flowers).

```
<root>/train/char-CNN-RNN-embeddings.pickle   (N, 10, 1024): ten caption embeddings per image
<root>/train/filenames.pickle                 N names such as 002.Laysan_Albatross/Laysan_Albatross_0002_1027
<root>/train/class_info.pickle                N class ids (1-based)
<root>/test/…                                 the same three files
<root>/images/<name>.jpg  or  <root>/CUB_200_2011/images/<name>.jpg  or  <root>/<name>.jpg   (Oxford: jpg/…)
<root>/text_c10/<name>.txt  or  <root>/text/<name>.txt   (optional: the captions, one a line)
```
The pickles were written by Python 2: they are read with ``encoding="latin1"``. With
``CUB_200_2011/bounding_boxes.txt`` and ``images.txt`` present, birds are cropped to 1.5× their box (as the
released StackGAN code does). Batches are ``(images, classes, embeddings)`` like every captioned set; free text
cannot be encoded (the char-CNN-RNN encoder is not part of the release).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.transforms.v2.functional import pil_to_tensor

from gan_lab.data.captioned import CaptionedDataModule, CaptionedImages
from gan_lab.data.datamodule import FitImage
from gan_lab.errors import ConfigError, DatasetNotFoundError

FILES = ("char-CNN-RNN-embeddings.pickle", "filenames.pickle", "class_info.pickle")
IMAGE_DIRS = ("images", "CUB_200_2011/images", ".")
TEXT_DIRS = ("text_c10", "text")


def _load_pickle(path: Path):
    with open(path, "rb") as f:
        return pickle.load(f, encoding="latin1")


def _bounding_boxes(root: Path) -> dict[str, tuple[float, float, float, float]]:
    """name (without extension) -> (x, y, width, height), when CUB's box files are there."""
    base = root / "CUB_200_2011"
    if not ((base / "bounding_boxes.txt").is_file() and (base / "images.txt").is_file()):
        return {}
    names = dict(line.split() for line in (base / "images.txt").read_text().splitlines() if line.strip())
    boxes = {}
    for line in (base / "bounding_boxes.txt").read_text().splitlines():
        if line.strip():
            key, *box = line.split()
            boxes[str(Path(names[key]).with_suffix(""))] = tuple(float(b) for b in box)
    return boxes


def _crop(image: Image.Image, box: tuple[float, float, float, float]) -> Image.Image:
    x, y, w, h = box
    r = int(max(w, h) * 0.75)
    cx, cy = int(x + w / 2), int(y + h / 2)
    return image.crop((max(0, cx - r), max(0, cy - r), min(image.width, cx + r), min(image.height, cy + r)))


class StackGANLayoutDataModule(CaptionedDataModule):
    """Images (resized and centre-cropped to ``image_size``), class ids and the released caption embeddings.

    Args: root (the layout above); image_size; embedding_dim (1024 for the released files); num_classes (200 for
    CUB, 102 for Oxford-102; class ids are 1-based in the files, 0-based in batches); bbox_crop; and the
    shared batch_size, seed, batches_per_step, num_workers.
    """

    def __init__(self, root: str, image_size: int = 64, channels: int = 3, batch_size: int = 64,
                 embedding_dim: int = 1024, num_classes: int = 200, bbox_crop: bool = True, seed: int = 0,
                 batches_per_step: int = 1, num_workers: int = 0):
        super().__init__(image_size, channels, embedding_dim, num_classes, batch_size, seed, batches_per_step,
                         num_workers)
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
                f"({{train,test}}/{{{','.join(FILES)}}} and the images under images/ or CUB_200_2011/images/)")
        embeddings = torch.as_tensor(np.asarray(_load_pickle(folder / FILES[0]), dtype=np.float32))
        names = [str(n) for n in _load_pickle(folder / FILES[1])]
        classes = torch.as_tensor(np.asarray(_load_pickle(folder / FILES[2]), dtype=np.int64)).view(-1) - 1
        if embeddings.ndim == 2:  # one embedding per image
            embeddings = embeddings[:, None]
        if not len(embeddings) == len(names) == len(classes):
            raise DatasetNotFoundError(f"{folder}: {len(embeddings)} embeddings, {len(names)} file names and "
                                       f"{len(classes)} class ids: the three files must list the same images")
        self.check_embedding_dim(embeddings.shape[-1], f"{folder / FILES[0]}")
        if classes.min() < 0 or classes.max() >= self.num_classes:
            raise ConfigError(f"{folder / FILES[2]} holds class ids {int(classes.min()) + 1}..{int(classes.max()) + 1} "
                              f"but data.num_classes={self.num_classes}: set it to at least {int(classes.max()) + 1}")
        boxes = _bounding_boxes(self.root) if self.bbox_crop else {}
        images, captions = [], []
        for name in names:
            path = self._find(name, IMAGE_DIRS, (".jpg", ".png", ""))
            if path is None:
                raise DatasetNotFoundError(f"image {name}.jpg not found under {self.root}/images/, "
                                           f"{self.root}/CUB_200_2011/images/ or {self.root}/")
            with Image.open(path) as image:
                image = image.convert("RGB")
                if name in boxes:
                    image = _crop(image, boxes[name])
                images.append(self.fit(pil_to_tensor(image)))
            text = self._find(name, TEXT_DIRS, (".txt",))
            captions.append([line.strip() for line in text.read_text().splitlines() if line.strip()]
                            if text else [])
        return CaptionedImages(torch.stack(images), classes, embeddings, captions if all(captions) else None,
                               None, self.seed)

    def encode_text(self, captions: list[str]):
        raise ConfigError(f"{self.name} conditions on the released char-CNN-RNN embeddings; their text encoder is "
                          "not part of the release, so new captions cannot be encoded (use data=shapes for free text)")
