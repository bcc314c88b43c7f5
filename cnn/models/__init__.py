"""Layer 2, models: every architecture by name (the tutorials' and the project's fast nets), and designs
(cnn.models.design: a network as a JSON list of torch.nn layers)."""

from .design import DESIGN, Design, parse
from .design_view import model_name
from .registry import MODELS, ModelSpec, build_model, classifier_name, count_parameters, get_spec, load_partial_state

__all__ = [
    "DESIGN",
    "Design",
    "MODELS",
    "ModelSpec",
    "build_model",
    "classifier_name",
    "count_parameters",
    "get_spec",
    "load_partial_state",
    "model_name",
    "parse",
]
