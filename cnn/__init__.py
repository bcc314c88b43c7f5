"""CNN Playground core: data, models, training, inference and checkpoints. Never imports Gradio."""
from .errors import CnnError, DataError, CheckpointError, ConfigError

__all__ = ["CnnError", "DataError", "CheckpointError", "ConfigError"]
