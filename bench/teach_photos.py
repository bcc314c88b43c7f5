"""Teach it your own classes with photos: a photos project fine-tuned and trained from scratch, side by side.

    python bench/teach_photos.py --task heldout --pair cat,dog   # honest: classes the backbone never saw
    python bench/teach_photos.py --task heldout --variants all   # also the schedules the default was chosen from
    python bench/teach_photos.py --task cifar   # cat / dog / horse from CIFAR-10's test images
    python bench/teach_photos.py --task digits  # MNIST digits 0 / 1 / 7 as colour photos (a new domain)

heldout: a cifar10_small backbone is trained on the other 8 CIFAR-10 classes (all 40,000 of their
training images; cached under $CNN_CACHE_DIR/teach_photos, keyed by its settings), then a project
of --photos CIFAR-10 training photos of each held-back class (a different draw for every seed; the
project holds one in five out, so 16 of 20 are learned from) is taught with the project's defaults
(cnn/projects/teaching.py) and from scratch, and scored on all 1,000 test photos of each class.

cifar and digits (12 images per class, 10 learned from, 100 fresh per class) fine-tune the shipped
CIFAR-10 model: the cifar task is optimistic (that model was trained on those classes, though not on
these images); the digits task is one its features were not made for.

Every photo is made a 64x64 RGB picture and prepared as the Photo tab prepares one. Wrap a timed run
in `flock /tmp/bench.lock` on a shared machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import common  # noqa: F401  (sets the data directory)
import torch
from common import header, table
from PIL import Image

from cnn.checkpoint import read_metadata, save_checkpoint
from cnn.data import Dataset, Split, load_dataset
from cnn.data.folders import cache_dir
from cnn.data.normalize import Normalizer
from cnn.evaluation import Augmentation, EvalPlan, evaluate
from cnn.projects import FINE_TUNE_FROM, Project, plan, prepare
from cnn.serving.render import to_pil
from cnn.training import get_recipe, train

ROOT = Path(__file__).resolve().parents[1]
TASKS = {"cifar": ("cifar10", ["cat", "dog", "horse"]), "digits": ("mnist", ["0", "1", "7"])}
BACKBONE_RECIPE = "cifar10_small"
VARIANTS = {  # name: (fine-tune?, recipe changes on top of the project's defaults)
    "fine-tune (default: the classifier alone half the run, then all layers)": (True, {}),
    "from scratch": (False, {}),
}
MORE = {  # the schedules the photos default is chosen from (cnn/projects/teaching.py TEACH)
    "fine-tune, classifier alone": (True, {"head_share": 1.0}),
    "fine-tune, classifier alone, lr /3": (True, {"head_share": 1.0, "lr_scale": 1 / 3}),
    "fine-tune, classifier alone, lr x3": (True, {"head_share": 1.0, "lr_scale": 3}),
    "fine-tune, classifier alone, twice the steps": (True, {"head_share": 1.0, "epochs_scale": 2}),
    "fine-tune, half then all layers, lr /3": (True, {"lr_scale": 1 / 3}),
    "fine-tune, half then all layers, lr /10": (True, {"lr_scale": 0.1}),
    "fine-tune, half then all layers, twice the steps": (True, {"epochs_scale": 2}),
    "fine-tune, all layers from the start": (True, {"head_share": 0.0}),
    "fine-tune, all layers, lr /3": (True, {"head_share": 0.0, "lr_scale": 1 / 3}),
}


def photo(x: torch.Tensor) -> Image.Image:
    """A data set's image as a 64x64 RGB photo, as someone might upload it."""
    return to_pil(x).convert("RGB").resize((64, 64), Image.Resampling.BICUBIC)


def as_photos_split(xs: list[torch.Tensor], labels: list[int]) -> Split:
    """Images prepared as the Photo tab prepares a photo (what the project's model sees)."""
    return Split(torch.stack([prepare("photos", photo(x))[0] for x in xs]), torch.tensor(labels))


def _only(split: Split, keep: list[int]) -> Split:
    """The split's images of the classes `keep`, labelled by their place in it."""
    new = torch.full((int(split.labels.max()) + 1,), -1, dtype=torch.long)
    new[torch.tensor(keep)] = torch.arange(len(keep))
    mask = new[split.labels] >= 0
    return Split(split.images[mask], new[split.labels[mask]])


def backbone(held: list[str], epochs: float, seed: int = 0, recipe_name: str = BACKBONE_RECIPE) -> tuple[Path, dict]:
    """A checkpoint of `recipe_name` trained on the CIFAR-10 classes other than `held` (on the best
    device there is), from the cache when one with the same settings was trained before."""
    full = load_dataset("cifar10")
    keep = [k for k, c in enumerate(full.classes) if c not in held]
    recipe = get_recipe(recipe_name).replace(epochs=epochs)
    key = json.dumps(
        {
            "classes": [full.classes[k] for k in keep],
            "recipe": recipe.as_dict(),
            "seed": seed,
            "n_train": len(full.train),
        },
        sort_keys=True,
    )
    path = (
        cache_dir()
        / "teach_photos"
        / (f"backbone-without-{'-'.join(held)}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.safetensors")
    )
    if path.is_file():
        print(f"backbone: cached {path}", flush=True)
        return path, read_metadata(path)
    data = Dataset(
        "cifar10 without " + " and ".join(held),
        [full.classes[k] for k in keep],
        _only(full.train, keep),
        _only(full.test, keep),
    )
    print(
        f"backbone: training {recipe.model} ({recipe.name}, {epochs} epochs) on {len(data.train):,} images "
        f"of {len(keep)} classes",
        flush=True,
    )
    t0 = time.perf_counter()
    end = [ev for ev in train(recipe, data, seed=seed, evaluate_each_epoch=False, log_every=10**9)][-1]
    meta = dict(end.metadata, wall_seconds=round(time.perf_counter() - t0, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(end.model, meta, path)
    return path, meta


def teach(project: Project, init: Path | None, changes: dict, test: Split, seed: int) -> dict:
    """One run on the project (fine-tuned from `init`, or from scratch), scored on `test`."""
    p = plan(project.path, init)
    changes = dict(changes)
    lr, longer, head = changes.pop("lr_scale", 1), changes.pop("epochs_scale", 1), changes.pop("head_share", None)
    recipe = p.recipe.replace(lr=p.recipe.lr * lr, epochs=p.recipe.epochs * longer, **changes)
    head = head if head is not None else p.recipe.head_only_epochs / p.recipe.epochs  # the default's share
    recipe = recipe.replace(head_only_epochs=round(recipe.epochs * head, 2))
    end = [ev for ev in train(recipe, p.data, device="cpu", seed=seed, init_state=p.init_state, log_every=10**9)][-1]
    norm = end.metadata["normalization"]
    acc = evaluate(
        end.model.cpu(),
        test,
        Normalizer(norm["mean"], norm["std"], "cpu", 3),
        len(p.data.classes),
        EvalPlan(Augmentation.served(recipe.flip)),
    ).accuracy
    steps = round(recipe.epochs * -(-len(p.data.train) // recipe.batch_size))
    return {"fresh": acc, "held": end.test_accuracy, "seconds": end.elapsed, "steps": steps, "model": recipe.model}


def heldout(args) -> list[dict]:
    held = args.pair.split(",")
    full = load_dataset("cifar10")
    if len(held) != 2 or not set(held) <= set(full.classes):
        raise SystemExit(f"--pair takes two of {', '.join(full.classes)}, e.g. cat,dog")
    torch.set_num_threads(args.backbone_threads)
    path, meta = backbone(held, args.backbone_epochs, recipe_name=args.backbone_recipe)
    print(
        f"backbone: {meta['architecture']}, {len(meta['classes'])} classes, test accuracy "
        f"{meta['test_accuracy']:.4f}, train {meta['train_seconds']} s ({meta.get('wall_seconds', '?')} s wall)",
        flush=True,
    )
    torch.set_num_threads(args.threads)
    labels = [full.classes.index(c) for c in held]
    test_idx = [(full.test.labels == k).nonzero().flatten() for k in labels]
    test = as_photos_split(
        [full.test.images[i] for idx in test_idx for i in idx], [j for j, idx in enumerate(test_idx) for _ in idx]
    )
    names = list(VARIANTS) + (list(MORE) if args.variants == "all" else args.also)
    results = {n: [] for n in names}
    for seed in range(args.seeds):
        gen = torch.Generator().manual_seed(1000 + seed)  # a different draw of photos for each seed
        with tempfile.TemporaryDirectory() as tmp:
            project = Project.create("Held back", "photos", data_dir=tmp)
            for name, k in zip(held, labels):
                project.add_class(name)
                idx = (full.train.labels == k).nonzero().flatten()
                for i, j in enumerate(idx[torch.randperm(len(idx), generator=gen)[: args.photos]]):
                    added = project.add_example(name, photo(full.train.images[j]))
                    added.rename(added.with_name(f"{i:02d}.png"))  # the held-out share: fixed names
            for name in names:
                fine, changes = VARIANTS.get(name) or MORE[name]
                r = teach(project, path if fine else None, changes, test, seed)
                results[name].append(r)
                print(
                    f"  seed {seed} {name}: test {r['fresh']:.4f}, held-out {r['held']:.4f}, {r['seconds']:.1f} s",
                    flush=True,
                )
    return [summary(name, runs) for name, runs in results.items()]


def summary(name: str, runs: list[dict]) -> dict:
    acc = [r["fresh"] for r in runs]
    spread = statistics.stdev(acc) if len(acc) > 1 else 0.0
    return {
        "variant": name,
        "model": runs[0]["model"],
        "steps": runs[0]["steps"],
        "test accuracy (mean ± sd)": f"{statistics.mean(acc):.2%} ± {spread:.2%}",
        "min-max": f"{min(acc):.2%}-{max(acc):.2%}",
        "held-out": f"{statistics.mean(r['held'] for r in runs):.2%}",
        "train s (mean)": f"{statistics.mean(r['seconds'] for r in runs):.1f}",
    }


def photos(task: str) -> dict[str, list[Image.Image]]:
    """112 images per class (12 for the project, 100 fresh), as RGB photos of 64x64."""
    source, names = TASKS[task]
    data = load_dataset(source, train=False)
    out = {}
    for name in names:
        idx = (data.test.labels == data.classes.index(name)).nonzero().flatten()[:112]
        out[name] = [photo(data.test.images[i]) for i in idx]
    return out


def shipped(task: str, also: list[str]) -> list[dict]:
    images = photos(task)
    fresh = Split(
        torch.stack([prepare("photos", im)[0] for ims in images.values() for im in ims[12:]]),
        torch.tensor([k for k, ims in enumerate(images.values()) for _ in ims[12:]]),
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        project = Project.create("Photos", "photos", data_dir=tmp)
        for name, ims in images.items():
            project.add_class(name)
            for i, im in enumerate(ims[:12]):
                added = project.add_example(name, im)
                added.rename(added.with_name(f"{i:02d}.png"))  # a fixed held-out share
        shipped_model = ROOT / FINE_TUNE_FROM["photos"]
        for label, init, changes in (
            ("fine-tune (default)", shipped_model, {}),
            ("fine-tune, classifier alone", shipped_model, {"head_share": 1.0}),
            ("from scratch", None, {}),
            *((name, shipped_model, MORE[name][1]) for name in also),
        ):
            r = teach(project, init, changes, fresh, seed=0)
            rows.append(
                {
                    "variant": label,
                    "model": r["model"],
                    "steps": r["steps"],
                    "fresh test accuracy": f"{r['fresh']:.2%}",
                    "held-out": f"{r['held']:.2%}",
                    "train s": f"{r['seconds']:.1f}",
                }
            )
            print(rows[-1], flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", choices=["heldout", *TASKS], default="heldout")
    ap.add_argument("--pair", default="cat,dog", help="heldout: the two CIFAR-10 classes held back")
    ap.add_argument("--photos", type=int, default=20, help="heldout: photos per class in the project")
    ap.add_argument("--seeds", type=int, default=3, help="heldout: runs of each variant (photo draws and seeds)")
    ap.add_argument("--variants", default="default", help="heldout: 'default' or 'all'")
    ap.add_argument(
        "--also",
        action="append",
        default=[],
        choices=list(MORE),
        metavar="VARIANT",
        help="with the default variants, also this one of the others (repeatable)",
    )
    ap.add_argument("--backbone-epochs", type=float, default=8)
    ap.add_argument(
        "--backbone-recipe",
        default=BACKBONE_RECIPE,
        help="heldout: the backbone's recipe (cifar10_fast: the shipped model's, a GPU job)",
    )
    ap.add_argument("--backbone-threads", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads for teaching (1, as the Teach tab)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    what = (
        f"{args.pair} held back from the backbone, {args.photos} photos each" if args.task == "heldout" else args.task
    )
    header(f"Teach it your own classes: photos ({what})")
    rows = heldout(args) if args.task == "heldout" else shipped(args.task, args.also)
    print(table(rows, list(rows[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
