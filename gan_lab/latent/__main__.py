"""``python -m gan_lab.latent <command> ckpt=... [overrides]`` — latent-space tools on a trained checkpoint.

Commands: interpolate (lerp/slerp walks, strip + optional GIF), progress (GIF of a run's sample grids:
:mod:`gan_lab.progress`),
encoder (train E(x) -> z against the frozen G), arithmetic (attribute vectors from an encoder, DCGAN's
average-z arithmetic), features (linear probe on the discriminator's features). Configs: conf/latent/<command>.yaml.
"""

from __future__ import annotations

import sys

from gan_lab.cli import hydra_command
from gan_lab.latent import tools
from gan_lab.progress import progress

COMMANDS = {
    "interpolate": tools.interpolate,
    "progress": progress,
    "encoder": tools.train_encoder,
    "arithmetic": tools.arithmetic,
    "features": tools.probe_features,
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python -m gan_lab.latent {{{','.join(COMMANDS)}}} [key=value ...]")
    command = sys.argv.pop(1)
    hydra_command(f"latent/{command}", COMMANDS[command])()


if __name__ == "__main__":
    main()
