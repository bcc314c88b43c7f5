"""How long a run will take and wait, about: what a waiting person's page says ("2 ahead of you,
about 40 s"). Before a run of a model has finished here, its rate is a guess by device type."""

from __future__ import annotations

from ..projects.teaching import TEACH
from .limits import train_images

# images/s by device type (mnist_fast on the 2-core VM trains at about 2,500 images/s; a GPU far
# faster), plus the seconds of loading its data. Once a run of a model finishes, its own rate is used.
GUESS_IMAGES_PER_S = {"cpu": 2000.0, "mps": 8000.0, "cuda": 20000.0}
LOAD_S = 3.0


def estimated_length(config, rate: float | None, device_type: str) -> float:
    """Seconds a run of these settings trains for: its images x epochs at `rate` images/s (the rate
    its model trained at here last), or GUESS_IMAGES_PER_S's."""
    if config.project is not None:
        kind = "photos" if "photo" in config.recipe else "drawings"
        images = TEACH[kind]["steps"] * config.batch_size
    else:
        images = float(config.epochs) * train_images(config)
    return LOAD_S + images / (rate or GUESS_IMAGES_PER_S.get(device_type, 2000.0))


def wait_before(remaining: list[float], ahead: list[float], places: int) -> float:
    """Seconds until a waiting run starts: the `places` training places come free as the runs in
    them end (`remaining` seconds each), and each run waiting ahead of it (`ahead`: their lengths)
    takes the first place that comes free."""
    free = sorted(remaining)
    free = [0.0] * (places - len(free)) + free
    for length in ahead:
        t = free.pop(0)
        free = sorted([*free, t + length])
    return free[0]
