"""Layer 2, data: the data sets as whole uint8 tensors, their normalisation and augmentation."""

from .folders import cache_dir, load_image_folder
from .sources import NAMED_SOURCES, load_dataset, resolve_data_dir
from .splits import IMAGE_PREPARATIONS, Dataset, Split, image_preparation, random_dataset

__all__ = [
    "Dataset",
    "Split",
    "random_dataset",
    "image_preparation",
    "IMAGE_PREPARATIONS",
    "load_dataset",
    "load_image_folder",
    "resolve_data_dir",
    "cache_dir",
    "NAMED_SOURCES",
]
