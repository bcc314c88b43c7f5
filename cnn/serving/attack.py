"""Make it say N: a targeted PGD attack in a model's own input space. Never imports Gradio.

The attack changes the image the model sees (after the tab's preparation: a 28x28 digit, a 32x32
photo) within an L-infinity ball of radius epsilon, measured in pixel values 0-1, and goes through
the model's own normalisation and test-time flip. The changed image is returned as a person or a
program can feed it back: uint8 pixels, at most floor(epsilon * 255) levels from the original, and
the success is checked on those pixels by the served model (`Predictor.probabilities`), not on the
floats the attack worked with.

Two engines do the same steps: `plain` (our loop: it stops as soon as the quantised image says N)
and `captum` (captum.robust.PGD, a fixed number of steps per round). bench/attack_speed.py compares
them (docs/probe.md); `make_it_say` uses the faster, `plain`.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..evaluation import Augmentation, tta_logits
from .predictor import Predictor, one_thread

MAX_EPSILON = 1.0  # the whole pixel range: any larger ball is the same ball
STEPS = 60  # gradient steps per start at most
STARTS = 2  # the first from the image itself, then one from a random point of the ball
BUDGET_S = 4.0  # a page waits at most about this long; then the attack stops and says it held
ENGINES = ("plain", "captum")


@dataclass
class AttackResult:
    target: int  # the class index asked for
    success: bool  # the served model gives `target` for `changed`
    seen: torch.Tensor  # uint8 C x H x W: the image the model saw
    changed: torch.Tensor  # uint8 C x H x W: the changed image, as the model must see it
    before: torch.Tensor  # the served probabilities of `seen`
    after: torch.Tensor  # ... and of `changed`
    steps: int  # gradient steps taken
    seconds: float

    @property
    def linf(self) -> float:
        """The largest change of any pixel, 0-1."""
        return float((self.changed.int() - self.seen.int()).abs().max()) / 255.0


def target_index(classes: list[str], target) -> int:
    """A target given as a class name or an index (a number, or a string of digits that names no
    class), refused in words when it is neither."""
    text = str(target).strip() if target is not None else ""
    if text in classes:
        return classes.index(text)
    if isinstance(target, (int, float)) and not isinstance(target, bool) or text.isdigit():
        try:
            i = int(float(text))
        except ValueError:
            i = -1
        if str(i) == text.split(".")[0] and 0 <= i < len(classes):
            return i
    shown = ", ".join(classes[:20]) + (" ..." if len(classes) > 20 else "")
    raise ConfigError(f"Unknown target {text!r}: name one of the model's classes ({shown}) or its index.")


def checked_epsilon(epsilon) -> float:
    """epsilon as a float in [0, MAX_EPSILON], refused in words otherwise."""
    try:
        e = float(epsilon)
    except (TypeError, ValueError):
        raise ConfigError(f"epsilon must be a number between 0 and {MAX_EPSILON:g} (got {epsilon!r}).") from None
    if not math.isfinite(e) or not 0 <= e <= MAX_EPSILON:
        raise ConfigError(f"epsilon must be between 0 and {MAX_EPSILON:g}: the largest change of a pixel, 0-1.")
    return e


class _Forward:
    """The served model as a function of pixels in [0, 1]: normalised, flip-averaged where it serves
    so, logits (the temperature changes no answer)."""

    def __init__(self, predictor: Predictor):
        self.p = predictor
        self.aug = Augmentation.served(predictor.tta_flip)

    def __call__(self, u: torch.Tensor) -> torch.Tensor:
        return tta_logits(self.p.model, self.p.normalizer(u * 255.0), self.aug, stack=True)


def _quantised(x: torch.Tensor, u: torch.Tensor, levels: int) -> torch.Tensor:
    """u (1 x C x H x W in [0, 1]) as uint8 pixels at most `levels` from x (uint8 C x H x W)."""
    q = (u[0] * 255.0).round()
    lo, hi = (x.int() - levels).clamp(min=0), (x.int() + levels).clamp(max=255)
    return torch.minimum(torch.maximum(q, lo.float()), hi.float()).to(torch.uint8)


def _says(predictor: Predictor, q: torch.Tensor, target: int) -> bool:
    return int(predictor.logits(q).argmax()) == target


def _plain(f: _Forward, pred: Predictor, x, u0, start, target, eps, alpha, steps, levels, deadline):
    """Our PGD loop from `start`: (the last quantised image, whether it says target, steps taken)."""
    u, goal = start.clone(), torch.tensor([target])
    for i in range(steps):
        if time.perf_counter() > deadline:
            steps = i
            break
        u.requires_grad_(True)
        logits = f(u)
        if int(logits.argmax()) == target and _says(pred, q := _quantised(x, u.detach(), levels), target):
            return q, True, i
        (grad,) = torch.autograd.grad(F.cross_entropy(logits, goal), u)
        u = u.detach() - alpha * grad.sign()
        u = torch.minimum(torch.maximum(u, u0 - eps), u0 + eps).clamp(0, 1)
    q = _quantised(x, u.detach(), levels)
    return q, _says(pred, q, target), steps


def _captum(f: _Forward, pred: Predictor, x, u0, start, target, eps, alpha, steps, levels, deadline, rounds=4):
    """captum.robust.PGD in `rounds` rounds (the quantised image checked after each, the point
    projected back onto the ball around the original between rounds)."""
    from captum.robust import PGD

    goal = torch.tensor([target])
    pgd = PGD(
        f, loss_func=lambda out, _t: F.cross_entropy(out, goal, reduction="none"), lower_bound=0.0, upper_bound=1.0
    )
    u, per = start.clone(), max(1, steps // rounds)
    for r in range(rounds):
        with warnings.catch_warnings():  # captum notes that it set requires_grad on its own copies
            warnings.simplefilter("ignore", UserWarning)
            u = pgd.perturb(u.requires_grad_(True), eps, alpha, per, target, targeted=True).detach()
        u = torch.minimum(torch.maximum(u, u0 - eps), u0 + eps).clamp(0, 1)
        if _says(pred, q := _quantised(x, u, levels), target):
            return q, True, (r + 1) * per
        if time.perf_counter() > deadline:
            return q, False, (r + 1) * per
    return q, False, rounds * per


def make_it_say(
    predictor: Predictor,
    x: torch.Tensor,
    target: int,
    epsilon: float,
    *,
    engine: str = "plain",
    steps: int = STEPS,
    starts: int = STARTS,
    seed: int = 0,
    budget_s: float = BUDGET_S,
) -> AttackResult:
    """The smallest-effort change within epsilon (0-1) of the uint8 C x H x W image x that makes the
    served model answer `target`: PGD with step epsilon/8 (at least one pixel level), from the
    image and then from random points of the ball; success only when the uint8 result says it.
    It stops after budget_s seconds (a big model at a tiny epsilon), saying it held."""
    t0 = time.perf_counter()
    if engine not in ENGINES:
        raise ConfigError(f"Unknown attack engine {engine!r}; use one of {', '.join(ENGINES)}.")
    eps, target = checked_epsilon(epsilon), int(target)
    if not 0 <= target < len(predictor.classes):
        raise ConfigError(f"The target must be a class index from 0 to {len(predictor.classes) - 1}.")
    x = x.detach().cpu().to(torch.uint8).contiguous()
    predictor.batch(x)  # refuses an image of the wrong shape
    levels = int(math.floor(eps * 255 + 1e-6))  # the uint8 change allowed
    before = predictor.probabilities(x)
    changed, ok, taken = x, int(before.argmax()) == target, 0
    if not ok and levels > 0:
        f, run = _Forward(predictor), _plain if engine == "plain" else _captum
        u0 = x.float()[None] / 255.0
        alpha, eps_q = max(eps / 8, 1 / 255), levels / 255.0
        gen = torch.Generator().manual_seed(seed)
        with torch.enable_grad(), one_thread():
            for s in range(max(1, starts)):
                noise = (torch.rand(u0.shape, generator=gen) * 2 - 1) * eps_q if s else 0.0
                start = (u0 + noise).clamp(0, 1)
                changed, ok, n = run(f, predictor, x, u0, start, target, eps_q, alpha, steps, levels, t0 + budget_s)
                taken += n
                if ok or time.perf_counter() > t0 + budget_s:
                    break
    after = predictor.probabilities(changed)  # when it held: the last try, which says something else
    ok = ok and int(after.argmax()) == target
    return AttackResult(target, ok, x, changed, before, after, taken, time.perf_counter() - t0)
