"""What a text-to-image D's class head reads: its accuracy per class attribute on real test images and on G's
images for the same captions (the head's ``aux|projection_aux`` groups, e.g. data=shapes' shape / colour / size /
position). A head that reads the caption's attribute in G's images far more often than the attribute judge does
(``evaluate metrics=[attributes]``) is being satisfied without the attribute being drawn.

    python benchmarks/stackgan_head.py outputs/bench_stackgan/iid-projection_aux/checkpoints/last.ckpt --n 500

Stage-I and Stage-II checkpoints (one D).
"""

from __future__ import annotations

import argparse

import torch

from gan_lab.evaluate import load_run
from gan_lab.images import to_tanh_range
from gan_lab.models.stackgan import class_digits


def head_accuracy(model, images: torch.Tensor, embeddings: torch.Tensor, classes: torch.Tensor) -> list[float]:
    """Per class group, the share of images whose head digit is their class digit."""
    logits = model.judge(model.real_images(images), embeddings).logits
    digits = class_digits(classes, model.discriminator.aux_classes)
    groups = logits.split(list(model.discriminator.head_widths), 1)  # with aux_fake_class the fake slot counts wrong
    return [(group.argmax(1) == d).float().mean().item() for group, d in zip(groups, digits)]


@torch.no_grad()
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ckpt")
    p.add_argument("--n", type=int, default=500, help="test captions (one image each)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.manual_seed(args.seed)  # the conditioning augmentation noise
    model, dm, g_steps = load_run(args.ckpt, "cpu", None)
    model.eval()
    if not model.discriminator.aux_classes:
        raise SystemExit(f"{args.ckpt}: its D has no class head (model.discriminator.condition=aux|projection_aux)")
    images, classes, embeddings = dm.split(train=False).__getitems__(list(range(args.n)))
    z = model.sample_z(len(classes), generator=torch.Generator().manual_seed(args.seed))
    fake = model.generate(z, embeddings)
    names = getattr(dm, "class_of", None) or [f"group {i}" for i in range(len(model.discriminator.aux_classes))]
    real_acc = head_accuracy(model, to_tanh_range(images), embeddings, classes)
    fake_acc = head_accuracy(model, fake, embeddings, classes)
    print(f"D's class head at generator step {g_steps}, {len(classes)} test captions\n")
    print("| images | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    print("| real (their class) | " + " | ".join(f"{a:.3f}" for a in real_acc) + " |")
    print("| G's (the caption's class) | " + " | ".join(f"{a:.3f}" for a in fake_acc) + " |")


if __name__ == "__main__":
    main()
