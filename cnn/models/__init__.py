"""Layer 2, models: every architecture by name (the tutorials' and the project's fast nets)."""

from .registry import MODELS, ModelSpec, build_model, classifier_name, count_parameters, get_spec, load_partial_state

__all__ = [
    "MODELS",
    "ModelSpec",
    "build_model",
    "classifier_name",
    "count_parameters",
    "get_spec",
    "load_partial_state",
]
