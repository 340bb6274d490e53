"""``python -m gan_lab`` and the ``gan-lab`` command: train, or gan_lab's own help (fast: no torch import)."""

import sys


def main() -> None:
    if {"-h", "--help"} & set(sys.argv[1:]):
        from gan_lab.help import help_text

        print(help_text())
    else:
        from gan_lab.training import main as train

        train()


if __name__ == "__main__":
    main()
