"""Layer 7, projects ("Teach it your own classes"): image folders of a person's own classes, made in
the Teach tab or by hand, and how they are trained on. store: the folder and project.json;
examples: one example as the model sees it; archive: zip export and import; loading: a project as
training data (and `load_training_data` for any data); teaching: the recipe and starting weights."""

from .archive import ImportResult, export_zip, import_zip
from .examples import CHANNELS, KINDS, MAX_UPLOAD_BYTES, SIDE, prepare
from .loading import HELD_OUT_FRACTION, load_project, load_training_data, project_folder
from .store import ClassInfo, Project, list_projects, projects_root
from .teaching import FINE_TUNE_FROM, Plan, plan, teach_recipe

__all__ = [
    "ImportResult",
    "export_zip",
    "import_zip",
    "CHANNELS",
    "KINDS",
    "MAX_UPLOAD_BYTES",
    "SIDE",
    "prepare",
    "HELD_OUT_FRACTION",
    "load_project",
    "load_training_data",
    "project_folder",
    "ClassInfo",
    "Project",
    "list_projects",
    "projects_root",
    "FINE_TUNE_FROM",
    "Plan",
    "plan",
    "teach_recipe",
]
