"""uint8 images to the normalised floats a model takes, on the device, a whole batch at once."""

from __future__ import annotations

import torch


class Normalizer:
    """uint8 images to float, minus the mean, over the standard deviation, per channel."""

    def __init__(self, mean, std, device, channels: int):
        mean, std = list(mean), list(std)
        if len(mean) == 1 and channels > 1:  # a grey recipe on colour data: same for each channel
            mean, std = mean * channels, std * channels
        if len(mean) != channels:
            mean, std = [sum(mean) / len(mean)] * channels, [sum(std) / len(std)] * channels
        self.scale = (1.0 / (255.0 * torch.tensor(std, device=device))).view(1, -1, 1, 1)
        self.shift = (torch.tensor(mean, device=device) / torch.tensor(std, device=device)).view(1, -1, 1, 1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x.float() * self.scale - self.shift
