"""Attribute agreement of a StackGAN run's images with the test captions that asked for them, vs chance.

    python benchmarks/stackgan_attributes.py <run>/checkpoints/last.ckpt [n=500]

For each of the first n test images, its first caption's embedding → one image (fixed z seed); the data's
attribute classifier (gan_lab.metrics.attributes, cached under outputs/) reads the image's attributes, compared
with what the caption asked for. Real test images give the classifier's own ceiling.
"""

from __future__ import annotations

import sys

import torch

from gan_lab.checkpoints import load_run
from gan_lab.metrics.attributes import attribute_classifier, caption_agreement, chance_levels


def main(ckpt: str, n: int = 500) -> None:
    model, dm, g_steps = load_run(ckpt)
    dm.setup("fit")
    split = dm.split(train=False)
    n = min(n, len(split))
    captions = [c[0] for c in split.captions[:n]]
    emb = split.embeddings[:n, 0].float()
    z = model.sample_z(n, generator=torch.Generator().manual_seed(0))
    images = torch.cat([model.generate(z[i:i + 100], emb[i:i + 100]) for i in range(0, n, 100)])
    clf = attribute_classifier(dm, cache_dir="outputs/cache")
    real, _, _ = dm.test_examples(n)
    fake_agree, real_agree = caption_agreement(clf, images, captions), caption_agreement(clf, real, captions)
    chance = chance_levels(tuple(clf.attributes))
    print(f"{type(model).__name__} after {g_steps} generator steps, {n} test captions")
    print(f"{'attribute':<12}{'generated':>10}{'real':>8}{'chance':>8}")
    for name in fake_agree:
        print(f"{name:<12}{fake_agree[name]:>10.3f}{real_agree[name]:>8.3f}{chance[name]:>8.3f}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 500)
