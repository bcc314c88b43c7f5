"""CNN Playground core: data, models, training, inference and checkpoints. Never imports Gradio."""

from .errors import CheckpointError, CnnError, ConfigError, DataError

__all__ = ["CnnError", "DataError", "CheckpointError", "ConfigError"]
