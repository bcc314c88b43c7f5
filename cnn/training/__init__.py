"""Layer 4, training: recipes, the one engine (`train`) and its events, and what it trains with."""

from .engine import train
from .events import End, EpochEnd, RunStatus, Snapshot, Start, Step
from .recipe import Recipe
from .recipes import RECIPES, default_recipe, get_recipe
from .watch import Watch

__all__ = [
    "train",
    "RunStatus",
    "Start",
    "Step",
    "EpochEnd",
    "End",
    "Snapshot",
    "Watch",
    "Recipe",
    "RECIPES",
    "get_recipe",
    "default_recipe",
]
