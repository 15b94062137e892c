"""Error types whose message is the one line a user sees.

The CLI catches :class:`PrunelabError` and prints ``prunelab: <message>`` without a traceback, so every
message must name what is wrong (file, config key, run hash) and, where possible, how to fix it.
"""


class PrunelabError(Exception):
    """Base class: a failure the user can act on, reported in one line."""


class ConfigError(PrunelabError):
    """An invalid config value; the message names the key and the allowed values."""


class DataError(PrunelabError):
    """A dataset that is missing or malformed; the message names the directory and expected files."""


class CheckpointError(PrunelabError):
    """A checkpoint, mask or weight file that is missing, truncated or corrupt."""


class StorageError(PrunelabError):
    """An output that cannot be written because its filesystem is full or the user's quota is used up."""


class DivergenceError(PrunelabError):
    """A NaN/Inf loss or weight; the message names the run, epoch and step (also kept as attributes)."""

    def __init__(self, message: str, epoch: int | None = None, iteration: int | None = None):
        super().__init__(message)
        self.epoch, self.iteration = epoch, iteration
