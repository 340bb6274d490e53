"""The FID floor: real train images against real test images of the same dataset, per feature network —
the value no generator can be expected to beat at that sample size.

    python benchmarks/fid_floor.py data=mnist n=10000 features=classifier \
        features.checkpoint=outputs/classifiers/mnist.ckpt
    python benchmarks/fid_floor.py data=mnist n=2000 features=inception
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, ROOT, markdown  # noqa: E402

from gan_lab.metrics import extract, image_metrics, real_batches  # noqa: E402


def main(argv: list[str]) -> None:
    n = next((int(a.split("=")[1]) for a in argv if a.startswith("n=")), 10000)
    overrides = [a for a in argv if not a.startswith("n=")]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    datamodule = instantiate(cfg.data)
    network = instantiate(cfg.features).eval()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    network = network.to(device)
    train, _ = extract(network, real_batches(datamodule.split(train=True), n, 250), device=device)
    test, _ = extract(network, real_batches(datamodule.split(train=False), n, 250), device=device)
    results = image_metrics(train, test, metrics=["fid", "kid"])
    row = [
        datamodule.name.split(":")[0],
        network.name,
        n,
        results["fid"],
        results["kid"],
        results.get("kid_std", float("nan")),
    ]
    table = markdown(
        "FID floor: real train vs real test",
        ["data", "features", "images per side", "FID", "KID", "KID std"],
        [row],
        f"First {n} images of each split; KID: 100 subsets of {min(1000, n)}.",
    )
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"fid_floor_{row[0]}_{network.name}_{n}.md").write_text(table)


if __name__ == "__main__":
    main(sys.argv[1:])
