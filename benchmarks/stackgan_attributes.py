"""Attribute agreement of a StackGAN run's images with the test captions that asked for them, vs chance.

    python benchmarks/stackgan_attributes.py <run>/checkpoints/last.ckpt [n=500]

The same measurement as ``python -m gan_lab.evaluate ckpt=<run>/checkpoints/last.ckpt metrics=[attributes]
n_samples=<n>`` (:mod:`gan_lab.metrics.text_image`): one image for each of the first n test captions (the first
caption of each test image; fixed z seed), its attributes read by the data's attribute classifier (cached under
outputs/cache), compared with what the caption asked for; real test images give the classifier's own ceiling.
"""

from __future__ import annotations

import sys

import torch

from gan_lab.checkpoints import load_run
from gan_lab.evaluate import markdown_table
from gan_lab.metrics import FeatureCache, evaluate_generator


def main(ckpt: str, n: int = 500) -> None:
    model, dm, g_steps = load_run(ckpt)
    torch.manual_seed(0)
    results, protocol = evaluate_generator(
        model, dm, None, ["attributes"], n_samples=n, batch_size=100, cache=FeatureCache("outputs/cache")
    )
    print(f"{type(model).__name__} after {g_steps} generator steps, {n} test captions")
    print(markdown_table(results, protocol))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 500)
