"""Images per second delivered to the training step: a torchvision dataset + DataLoader with per-sample PIL
transforms, against gan_lab's in-memory uint8 tensor path (on the CPU, and GPU-resident when there is one).

    python benchmarks/data_path.py [--mnist-root DIR] [--cifar-folder DIR] [--workers 0 2]

MNIST comes from DIR/MNIST/raw (default: ./data, else a temporary copy of ../shared/data/MNIST); the CIFAR-10
JPEG folder from ../shared/data/cifar10-test-jpg. Writes benchmarks/results/data_path.md (or --results DIR).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision.transforms import v2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, ROOT, markdown  # noqa: E402

from gan_lab.data import ImageDataModule, sources  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"


def rate(loader, to_step, n_images: int, warmup_batches: int = 2) -> float:
    """Images/s through ``loader`` and ``to_step`` (what the step receives: float images in [-1, 1] on the device),
    over as many epochs as ``warmup_batches`` + ``n_images`` take."""
    if len(loader) == 0:
        raise ValueError(f"the data set holds fewer images than one batch of {loader.batch_size}")
    seen, batches, start, sync = 0, 0, None, torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    while start is None or seen < n_images:
        for images, _labels in loader:
            if batches == warmup_batches:
                sync()
                start, seen = time.perf_counter(), 0
            seen += len(to_step(images))
            batches += 1
            if start is not None and seen >= n_images:
                break
    sync()
    return seen / (time.perf_counter() - start)


def per_sample_loader(dataset, batch: int, workers: int) -> DataLoader:
    return DataLoader(
        dataset, batch_size=batch, shuffle=True, drop_last=True, num_workers=workers, persistent_workers=workers > 0
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist-root", default=None)
    parser.add_argument("--cifar-folder", default=str(SHARED / "cifar10-test-jpg"))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--images", type=int, default=20000, help="images timed per measurement")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for data_path.md")
    args = parser.parse_args()

    mnist_root = args.mnist_root
    if mnist_root is None:
        mnist_root = "data" if (ROOT / "data" / "MNIST" / "raw").is_dir() else tempfile.mkdtemp()
        if not (Path(mnist_root) / "MNIST").is_dir():
            shutil.copytree(SHARED / "MNIST", Path(mnist_root) / "MNIST")
    normalise = v2.Compose([v2.PILToTensor(), v2.ToDtype(torch.float32, scale=True), v2.Normalize([0.5], [0.5])])
    sets = {
        "MNIST 28×28×1 (60k)": (
            datasets.MNIST(mnist_root, download=True, transform=normalise),
            dict(source=sources.mnist, root=mnist_root, image_size=28, channels=1),
        ),
        "CIFAR-10 JPEG 32×32×3 (10k)": (
            datasets.ImageFolder(args.cifar_folder, transform=normalise),
            dict(source=partial(sources.image_folder), root=args.cifar_folder, image_size=32, channels=3),
        ),
    }
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for name, (per_sample, dm_kwargs) in sets.items():
        for workers in args.workers:
            r = rate(per_sample_loader(per_sample, args.batch, workers), lambda x: x, args.images)
            rows.append([name, f"torchvision per-sample PIL, {workers} workers", "cpu", r])
            print(rows[-1], flush=True)
        dm = ImageDataModule(batch_size=args.batch, in_memory=True, download=False, **dm_kwargs)
        for device in devices:
            ds = dm.split(train=True).to(device)
            dm._splits[True] = ds
            loader = dm.train_dataloader()
            r = rate(
                loader,
                lambda x, dm=dm, device=device: dm.on_after_batch_transfer((x.to(device), None), 0)[0],
                args.images,
            )
            rows.append([name, "gan_lab in-memory uint8 tensor", device, r])
            print(rows[-1], flush=True)
    table = markdown(
        "Data path: images/s delivered to the training step",
        ["data", "pipeline", "device", "images/s"],
        rows,
        f"Batch {args.batch}; images/s over {args.images} images after 2 warm-up batches, each batch converted to "
        "float in [-1, 1] on the device. Compare with the images/s a training step consumes: "
        "batch × n_critic × generator steps/s (benchmarks/throughput.py).",
    )
    print("\n" + table)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "data_path.md").write_text(table)


if __name__ == "__main__":
    main()
