"""Layer 2, models: every architecture by name (the tutorials' and the project's fast nets)."""
from .registry import MODELS, ModelSpec, build_model, count_parameters, get_spec

__all__ = ["MODELS", "ModelSpec", "build_model", "count_parameters", "get_spec"]
