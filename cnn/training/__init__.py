"""Layer 4, training: recipes, the one engine (`train`) and its events, and what it trains with."""
from .events import End, EpochEnd, RunStatus, Start, Step
from .recipes import RECIPES, Recipe, default_recipe, get_recipe
from .trainer import train

__all__ = ["train", "RunStatus", "Start", "Step", "EpochEnd", "End", "Recipe", "RECIPES", "get_recipe", "default_recipe"]
