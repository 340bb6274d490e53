"""Errors caused by a user's input or environment.

The command-line entry points print these as one clear message (no traceback) and exit with status 1.
"""


class GanLabError(Exception):
    """Base class: something the user can fix (a config value, a missing file, a diverged run)."""


class ConfigError(GanLabError):
    """A config value that the chosen networks or data cannot work with."""


class DatasetError(GanLabError):
    """A dataset file that cannot be read (a corrupt image, say)."""


class DatasetNotFoundError(GanLabError):
    """Dataset files are missing and could not be downloaded."""


class CheckpointError(GanLabError):
    """A checkpoint file that is missing, corrupt, or not written by gan_lab."""


class NonFiniteLossError(GanLabError):
    """A loss became NaN or infinite; training stopped and the last good checkpoint was kept."""
