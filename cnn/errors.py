"""Errors a person can act on. Each message says what was wrong and what to do."""


class CnnError(Exception):
    """Base class: the CLI and the app show the message, never a stack trace."""


class DataError(CnnError):
    """A data set is missing, unreadable or unusable."""


class CheckpointError(CnnError):
    """A checkpoint file is not one we can load safely, or does not fit its model."""


class ConfigError(CnnError):
    """A training setting is out of range (learning rate, epochs, batch size, names)."""


class ImageError(CnnError):
    """An uploaded or drawn image cannot be used: not an image, corrupt, empty, too big or too small."""
