"""CNN Playground: draw a digit, classify a photo, train a CNN in the browser, look inside it.

    python app.py [--host 127.0.0.1] [--port 7860] [--data-dir D] [--share] [--allow-any-path]

This file only wires Gradio components to the `cnn` package: preprocessing is cnn.preprocess,
predictions and the look inside are cnn.inference, training runs are cnn.runs (cnn.engine).
"""
from __future__ import annotations

import argparse
import base64
import functools
import html
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402

from cnn.data import resolve_data_dir  # noqa: E402
from cnn.errors import CnnError  # noqa: E402
from cnn.models import MODELS  # noqa: E402
from cnn.runs import RunConfig, RunManager  # noqa: E402
from cnn.training import RunStatus  # noqa: E402
from cnn.serving.decode import BLANK_MESSAGE, is_empty_editor  # noqa: E402
from cnn.serving.digits import DOT_MESSAGE, prepare_digit  # noqa: E402
from cnn.serving.explain import explainer_for  # noqa: E402
from cnn.serving.photos import prepare_photo  # noqa: E402
from cnn.serving.predictor import Predictor, cached_predictor  # noqa: E402
from cnn.serving.render import confusion_image, enlarge, feature_grid, overlay, to_pil  # noqa: E402
from cnn.training.recipes import OPTIMIZERS, RECIPES, default_recipe, get_recipe  # noqa: E402

ROOT = Path(__file__).resolve().parent
EXAMPLES = sorted((ROOT / "examples").glob("*.png"))
DATASETS = {"MNIST": "mnist", "Fashion-MNIST": "fashion-mnist", "CIFAR-10": "cifar10", "Image folder": None}
MAX_UPLOAD = "20mb"
API_BLANK = {BLANK_MESSAGE: "The image is blank: there is no digit in it to classify.",
             DOT_MESSAGE: "The image holds only a dot, not a digit."}
log = logging.getLogger("cnn-playground")

# The Draw tab opens with the brush picked, so a person can draw at once.
PICK_BRUSH = """() => { const t0 = Date.now(); const pick = () => {
  const b = document.querySelector('#sketch button[aria-label="Brush"]');
  if (b) { b.click(); } else if (Date.now() - t0 < 15000) { setTimeout(pick, 200); } }; pick(); }"""
CSS = """
.pixelated img, #photo-in img { image-rendering: pixelated; }
#photo-in img { width: 100%; height: 100%; object-fit: contain; }
#train-progress progress { width: 100%; height: 14px; }
"""


def raw_upload(component: gr.Image) -> gr.Image:
    """Make an Image component hand its handler the uploaded file's path (or a pasted image's bytes)
    without decoding it, so that cnn.preprocess decodes it and refuses bad files (corrupt, empty,
    a decompression bomb) with a clear message. (An instance attribute rather than a subclass:
    Gradio writes a .pyi stub next to the source of every component subclass.)"""
    def preprocess(payload):
        if payload is None:
            return None
        if payload.url and payload.url.startswith("data:"):
            try:
                return base64.b64decode(payload.url.split(",", 1)[1])
            except Exception:
                raise _error("The pasted image could not be decoded.") from None
        return payload.path
    component.preprocess = preprocess
    return component


def friendly(fn):
    """Show a CnnError's message (or a short note for anything unexpected) instead of crashing."""
    @functools.wraps(fn)
    def inner(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except CnnError as exc:
            raise _error(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - the app keeps serving
            log.exception("unexpected error in %s", fn.__name__)
            raise _error(f"Something went wrong ({type(exc).__name__}: {str(exc)[:200]}).") from None
    return inner


def _error(message: str) -> gr.Error:
    """A message for the page: escaped, since Gradio renders it as HTML and it may hold a file name."""
    return gr.Error(html.escape(message, quote=False), print_exception=False)


def build_app(mnist_checkpoint: str | Path, cifar_checkpoint: str | Path, runs: RunManager,
              upload_ttl: int = 120) -> gr.Blocks:
    """The whole app. Uploaded files are deleted from Gradio's cache upload_ttl seconds after
    they arrive (not at once: identical uploads share one cached file)."""
    shipped = {"draw": str(mnist_checkpoint), "photo": str(cifar_checkpoint)}

    def predictor(path: str, what: str) -> Predictor:
        if not path or not Path(path).is_file():
            raise CnnError(f"No {what} model checkpoint at {path}. Train one in the Train tab and load "
                           f"it, or start the app with --{'mnist' if what == 'digit' else 'cifar'}-checkpoint PATH.")
        return cached_predictor(path)

    def about(path: str, what: str) -> str:
        try:
            p = predictor(path, what)
            return f"Model: **{p.describe()}** (`{Path(path).name}`)"
        except CnnError as exc:
            return f"⚠️ {exc}"

    # ------------------------------------------------------------ predictions

    def digit_prediction(image, model_path):
        """(label->probability or a message, the 28x28 the model saw)."""
        pred = predictor(model_path, "digit")
        r = prepare_digit(image)
        if r.image is None:
            return r.message, None
        return pred.predict(pred.fit(r.image)), r.preview

    @friendly
    def draw(sketch, model_path):
        if is_empty_editor(sketch):
            return "Draw a digit", None
        probs, seen = digit_prediction(sketch, model_path)
        return probs, enlarge(seen) if seen is not None else None

    @friendly
    def predict_digit(image):
        if image is None:
            raise CnnError("No image was given. Send an image of a digit.")
        probs, _ = digit_prediction(image, shipped["draw"])
        if isinstance(probs, str):
            raise CnnError(API_BLANK.get(probs, probs))
        return probs

    def photo_prediction(image, model_path):
        pred = predictor(model_path, "photo")
        c, h, _ = pred.input_shape
        x, seen = prepare_photo(image, size=h, channels=c)
        return pred.predict(x), seen

    @friendly
    def photo(image, model_path):
        if image is None:
            return None, None
        probs, seen = photo_prediction(image, model_path)
        return probs, enlarge(seen)

    @friendly
    def predict_photo(image):
        if image is None:
            raise CnnError("No image was given. Send a photo.")
        return photo_prediction(image, shipped["photo"])[0]

    # ------------------------------------------------------------ inside the network

    @friendly
    def inside(which, sketch, image, draw_path, photo_path):
        if which == "Drawing":
            pred = predictor(draw_path, "digit")
            r = None if is_empty_editor(sketch) else prepare_digit(sketch)
            x = None if r is None or r.image is None else pred.fit(r.image)
            hint = "Draw a digit in the Draw tab to see its feature maps."
        else:
            pred = predictor(photo_path, "photo")
            c, h, _ = pred.input_shape
            x = None if image is None else prepare_photo(image, size=h, channels=c)[0]
            hint = "Upload a photo in the Photo tab to see its feature maps."
        ex = explainer_for(pred)
        rows = pd.DataFrame(ex.summary_rows(), columns=["Layer", "Type", "Output shape", "Param #"])
        total = sum(p.numel() for p in pred.model.parameters())
        head = f"**{pred.describe()}**: {total:,} parameters, input {pred.input_shape}."
        if x is None:
            return head + "\n\n" + hint, rows, [], None, None, None
        probs = pred.predict(x)
        top = max(probs, key=probs.get)
        target = pred.classes.index(top)
        maps = [(feature_grid(m), f"{name}: {m.shape[0]} maps of {m.shape[1]}x{m.shape[2]}"
                 + (" (first 16 shown)" if m.shape[0] > 16 else "")) for name, m in ex.feature_maps(x)]
        return (head + f"\n\nPrediction: **{top}** ({probs[top]:.1%}). Grad-CAM and saliency are for "
                       f"this class.", rows, maps, enlarge(to_pil(x)),
                overlay(x, ex.grad_cam(x, target)), overlay(x, ex.saliency(x, target)))

    # ------------------------------------------------------------ training

    def fill_from_recipe(name):
        r = get_recipe(name)
        return r.epochs, r.batch_size, r.lr, r.optimizer

    def recipe_for_model(model):
        return default_recipe(model).name

    def start(dataset_choice, folder, model, recipe, epochs, batch, lr, optimizer, train_n, test_n,
              request: gr.Request):
        dataset = DATASETS.get(dataset_choice) or (folder or "").strip()
        session = getattr(request, "session_hash", None)
        try:
            cfg = RunConfig(dataset, model, recipe, epochs, batch, lr, optimizer,
                            int(train_n) if train_n else None, int(test_n) if test_n else None)
            run = runs.start(cfg, session=session)
        except CnnError as exc:
            raise _error(str(exc)) from None
        seen, last, warned = -1, 0.0, 0
        try:
            while True:
                seen = run.wait(seen, 0.5)
                for w in run.warnings[warned:]:
                    gr.Warning(w)
                warned = len(run.warnings)
                if not run.done:
                    time.sleep(max(0.0, 0.3 - (time.time() - last)))  # at most ~3 updates a second
                last = time.time()
                yield train_view(run)
                if run.done:
                    break
        finally:
            if not run.done:
                run.stop()  # the page went away: no run is left holding the device
        if run.status == RunStatus.FAILED:
            raise _error(run.message)

    def train_view(run):
        # an empty frame would leave a coloured plot blank for good (Gradio 6.31), so send none
        loss, acc = run.loss_points(), run.accuracy_points()
        loss = _frame(loss, epoch=float, step=int, loss=float) if loss else gr.skip()
        acc = _frame(acc, epoch=int, accuracy=float, split=str) if acc else gr.skip()
        out = {status_md: run.status_markdown(), progress_html: run.progress_html(), loss_plot: loss,
               acc_plot: acc}
        if run.done:
            ev = run.end.evaluation if run.end else None
            path = str(run.checkpoint) if run.checkpoint else None
            channels = run.data.input_shape[0] if run.data else 0
            out.update({
                result_md: run.result_markdown(),
                confusion_img: confusion_image(ev.confusion, run.data.classes) if ev is not None else None,
                wrong_gallery: [(enlarge(to_pil(img), 112), f"{t}, taken for {p}")
                                for img, t, p in run.misclassified()],
                last_run: path,
                to_draw_btn: gr.Button(visible=bool(path) and channels == 1),
                to_photo_btn: gr.Button(visible=bool(path)),
            })
        return out

    def clear_results():
        return {result_md: "", confusion_img: None, loss_plot: None, acc_plot: None, status_md: "",
                progress_html: "", wrong_gallery: [], last_run: None,
                to_draw_btn: gr.Button(visible=False), to_photo_btn: gr.Button(visible=False)}

    def stop(request: gr.Request):
        session = getattr(request, "session_hash", None)
        run = runs.current
        if run is None or run.done:
            gr.Info("No training run is going.")
        elif not runs.stop(session):
            gr.Warning("The run going now was started from another page; only that page can stop it.")
        else:
            gr.Info("Stopping: the run ends after the current step and keeps its weights.")

    @friendly
    def use_in(where, path):
        if not path:
            raise CnnError("There is no trained model yet: start a run first.")
        pred = predictor(path, "digit" if where == "draw" else "photo")
        if where == "draw" and pred.input_shape[0] != 1:
            raise CnnError("This model takes colour images; it can only go in the Photo tab.")
        gr.Info(f"The {where.capitalize()} tab now uses {Path(path).name}.")
        return path, about(path, "digit" if where == "draw" else "photo"), gr.Tabs(selected=where)

    def on_unload(request: gr.Request):
        runs.stop_session(getattr(request, "session_hash", None))

    # ------------------------------------------------------------ layout

    with gr.Blocks(title="CNN Playground", delete_cache=(max(1, upload_ttl // 2), upload_ttl)) as demo:
        draw_model = gr.State(shipped["draw"])
        photo_model = gr.State(shipped["photo"])
        gr.Markdown("# CNN Playground\nDraw a digit, classify a photo, train a CNN, and look inside it.")
        with gr.Tabs() as tabs:
            with gr.Tab("Draw", id="draw"):
                draw_about = gr.Markdown(about(shipped["draw"], "digit"), elem_id="draw-about")
                with gr.Row():
                    sketch = gr.Sketchpad(label="Draw a digit (0-9)", type="pil", image_mode="RGBA",
                                          canvas_size=(420, 420), elem_id="sketch", height=560,
                                          brush=gr.Brush(default_size=18, colors=["#000000"],
                                                         color_mode="fixed"))
                    with gr.Column():
                        digit_label = gr.Label(num_top_classes=10, label="Prediction", value="Draw a digit",
                                               elem_id="digit-label")
                        digit_seen = gr.Image(label="What the model saw (28x28)", interactive=False,
                                              height=180, elem_classes="pixelated", elem_id="digit-seen")
                        gr.Button("Use the shipped model", size="sm").click(
                            lambda: (shipped["draw"], about(shipped["draw"], "digit")), None,
                            [draw_model, draw_about], api_visibility="private")
            with gr.Tab("Photo", id="photo"):
                photo_about = gr.Markdown(about(shipped["photo"], "photo"), elem_id="photo-about")
                with gr.Row():
                    with gr.Column():
                        photo_in = raw_upload(gr.Image(
                            label="Photo (upload, webcam or paste)", type="filepath", image_mode=None,
                            sources=["upload", "webcam", "clipboard"], elem_id="photo-in", height=300))
                        if EXAMPLES:
                            gr.Examples([[str(p)] for p in EXAMPLES], inputs=[photo_in],
                                        label="Examples (CIFAR-10 test images)")
                    with gr.Column():
                        photo_label = gr.Label(num_top_classes=10, label="Prediction", elem_id="photo-label")
                        photo_seen = gr.Image(label="What the model saw (32x32)", interactive=False,
                                              height=180, elem_classes="pixelated")
                        gr.Button("Use the shipped model", size="sm").click(
                            lambda: (shipped["photo"], about(shipped["photo"], "photo")), None,
                            [photo_model, photo_about], api_visibility="private")
            with gr.Tab("Train", id="train"):
                gr.Markdown(f"Device: **{runs.device_name()}**. One training run at a time for everyone "
                            f"using this app. Runs are saved under `{runs.runs_dir}`.")
                with gr.Row():
                    dataset = gr.Dropdown(list(DATASETS), value="MNIST", label="Data set", elem_id="dataset")
                    folder = gr.Textbox(label="Image folder (one sub-folder per class)", visible=False,
                                        placeholder=f"a folder under the data directory {resolve_data_dir(runs.data_dir)}"
                                        if not runs.allow_any_path else "the path of an image folder")
                    model = gr.Dropdown(list(MODELS), value="mnist_fast", label="Model", elem_id="model")
                    recipe = gr.Dropdown(list(RECIPES), value="mnist_fast", label="Recipe preset", elem_id="recipe")
                with gr.Row():
                    r0 = get_recipe("mnist_fast")
                    epochs = gr.Number(r0.epochs, label="Epochs (may be fractional)", elem_id="epochs")
                    batch = gr.Number(r0.batch_size, label="Batch size", precision=0, elem_id="batch")
                    lr = gr.Number(r0.lr, label="Learning rate", elem_id="lr")
                    optimizer = gr.Dropdown(list(OPTIMIZERS), value=r0.optimizer, label="Optimizer", elem_id="optimizer")
                with gr.Accordion("Quick run: train on part of the data", open=False):
                    with gr.Row():
                        train_n = gr.Number(None, label="Training images (empty: all)", precision=0,
                                            elem_id="train-subset")
                        test_n = gr.Number(None, label="Test images (empty: all)", precision=0,
                                           elem_id="test-subset")
                with gr.Row():
                    start_btn = gr.Button("Start", variant="primary", elem_id="start-btn")
                    stop_btn = gr.Button("Stop", variant="stop", elem_id="stop-btn")
                status_md = gr.Markdown("", elem_id="train-status")
                progress_html = gr.HTML("", elem_id="train-progress")
                with gr.Row():
                    loss_plot = gr.LinePlot(x="epoch", y="loss", title="Training loss", elem_id="loss-plot",
                                            height=260)
                    acc_plot = gr.ScatterPlot(x="epoch", y="accuracy", color="split", title="Accuracy per epoch",
                                              elem_id="acc-plot", height=260, y_lim=[0, 1],
                                              color_map={"train": "#1f77b4", "test": "#ff7f0e"})
                result_md = gr.Markdown("", elem_id="train-result")
                with gr.Row():
                    to_draw_btn = gr.Button("Use this model in the Draw tab", visible=False, elem_id="to-draw")
                    to_photo_btn = gr.Button("Use this model in the Photo tab", visible=False,
                                             elem_id="to-photo")
                with gr.Row():
                    confusion_img = gr.Image(label="Confusion matrix (rows: true, columns: predicted)",
                                             interactive=False)
                    wrong_gallery = gr.Gallery(label="Misclassified test images: true class, taken for",
                                               columns=4, height=360, elem_id="wrong-gallery")
                last_run = gr.State(None)
            with gr.Tab("Inside the network", id="inside") as inside_tab:
                with gr.Row():
                    which = gr.Radio(["Drawing", "Photo"], value="Drawing", label="Look inside the model for")
                    look_btn = gr.Button("Show", variant="primary")
                inside_md = gr.Markdown()
                with gr.Row():
                    seen_img = gr.Image(label="Model input", interactive=False, height=224,
                                        elem_classes="pixelated")
                    cam_img = gr.Image(label="Grad-CAM (last feature map)", interactive=False, height=224,
                                       elem_classes="pixelated")
                    sal_img = gr.Image(label="Saliency (|d score / d pixel|)", interactive=False, height=224,
                                       elem_classes="pixelated")
                maps_gallery = gr.Gallery(label="Feature maps of each convolution layer", columns=4,
                                          height=420, object_fit="contain", elem_id="inside-maps")
                summary_df = gr.Dataframe(label="Model summary", interactive=False, wrap=True)

        # The named API endpoints (an image file in, {class: probability} out).
        with gr.Row(visible=False):
            api_digit_in = raw_upload(gr.Image(type="filepath", image_mode=None, label="image"))
            api_photo_in = raw_upload(gr.Image(type="filepath", image_mode=None, label="image"))
            api_out = gr.JSON(label="probabilities")
        predict_kw = dict(concurrency_id="predict", concurrency_limit=8)
        api_digit_in.change(predict_digit, api_digit_in, api_out, api_name="predict_digit", **predict_kw)
        api_photo_in.change(predict_photo, api_photo_in, api_out, api_name="predict_photo", **predict_kw)

        sketch.change(draw, [sketch, draw_model], [digit_label, digit_seen], trigger_mode="always_last",
                      show_progress="hidden", api_visibility="private", **predict_kw)
        photo_in.change(photo, [photo_in, photo_model], [photo_label, photo_seen], show_progress="hidden",
                        api_visibility="private", **predict_kw)
        inside_args = dict(fn=inside, inputs=[which, sketch, photo_in, draw_model, photo_model],
                           outputs=[inside_md, summary_df, maps_gallery, seen_img, cam_img, sal_img],
                           api_visibility="private", **predict_kw)
        look_btn.click(**inside_args)
        which.change(**inside_args)
        inside_tab.select(**inside_args)

        dataset.change(lambda d: gr.Textbox(visible=DATASETS.get(d) is None), dataset, folder,
                       api_visibility="private")
        model.input(recipe_for_model, model, recipe, api_visibility="private")
        recipe.change(fill_from_recipe, recipe, [epochs, batch, lr, optimizer], api_visibility="private")
        start_btn.click(clear_results, None, [result_md, confusion_img, loss_plot, acc_plot, status_md,
                                              progress_html, wrong_gallery, last_run, to_draw_btn, to_photo_btn],
                        api_visibility="private", queue=False).then(
            start, [dataset, folder, model, recipe, epochs, batch, lr, optimizer, train_n, test_n],
            [status_md, progress_html, loss_plot, acc_plot, result_md, confusion_img, wrong_gallery,
             last_run, to_draw_btn, to_photo_btn],
            api_visibility="private", concurrency_id="train", concurrency_limit=None,
            show_progress="hidden")
        stop_btn.click(stop, None, None, api_visibility="private", concurrency_id="stop",
                       concurrency_limit=None)
        to_draw_btn.click(functools.partial(use_in, "draw"), last_run, [draw_model, draw_about, tabs],
                          api_visibility="private")
        to_photo_btn.click(functools.partial(use_in, "photo"), last_run, [photo_model, photo_about, tabs],
                           api_visibility="private")
        demo.unload(on_unload)
        demo.load(None, None, None, js=PICK_BRUSH)
        sketch.clear(None, None, None, js=PICK_BRUSH, api_visibility="private")
    return demo


# ---------------------------------------------------------------- plots

def _frame(points: list[dict], **dtypes) -> pd.DataFrame:
    """Plot data with fixed column types, so an empty plot is not taken for a categorical one."""
    return pd.DataFrame({k: pd.Series([p[k] for p in points], dtype=t) for k, t in dtypes.items()})


# ---------------------------------------------------------------- launch

def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="CNN Playground in the browser.")
    p.add_argument("--host", default=os.environ.get("CNN_HOST", "127.0.0.1"),
                   help="address to bind (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=int, default=int(os.environ.get("CNN_PORT", 7860)))
    p.add_argument("--data-dir", default=None, help="data directory (default: $CNN_DATA_DIR, else ./data)")
    p.add_argument("--share", action="store_true", help="make a public Gradio share link (with a warning)")
    p.add_argument("--allow-any-path", action="store_true",
                   help="let the Train tab read image folders outside the data directory")
    p.add_argument("--mnist-checkpoint", default=os.environ.get("CNN_MNIST_CHECKPOINT",
                                                                str(ROOT / "checkpoints" / "mnist.safetensors")))
    p.add_argument("--cifar-checkpoint", default=os.environ.get("CNN_CIFAR10_CHECKPOINT",
                                                                str(ROOT / "checkpoints" / "cifar10.safetensors")))
    p.add_argument("--runs-dir", default=os.environ.get("CNN_RUNS_DIR", str(ROOT / "checkpoints" / "runs")),
                   help="where training runs are saved (default checkpoints/runs)")
    p.add_argument("--device", default=None, help="training device: cuda, mps or cpu (default: the best)")
    p.add_argument("--upload-ttl", type=int, default=120, metavar="SECONDS",
                   help="delete uploaded files this long after they arrive (default 120)")
    return p.parse_args(argv)


def auth_from_env() -> tuple[str, str] | None:
    raw = os.environ.get("CNN_AUTH")
    if not raw:
        return None
    user, sep, password = raw.partition(":")
    if not sep or not user or not password:
        sys.exit("error: CNN_AUTH must look like user:password")
    return user, password


def exposure_warnings(host: str, share: bool, has_auth: bool) -> list[str]:
    """What to tell the person who makes the app reachable from other computers."""
    login = "" if has_auth else " Set CNN_AUTH=user:password to require a login."
    out = []
    if host not in ("127.0.0.1", "localhost", "::1"):
        out.append(f"binding {host} makes the app reachable from other computers on the network; anyone "
                   f"who can reach it can use it and start training runs.{login}")
    if share:
        out.append(f"--share publishes the app on the internet through a Gradio share link; anyone with "
                   f"the link can use it and start training runs.{login}")
    return out


def serve(args: argparse.Namespace, *, block: bool = True) -> gr.Blocks:
    """Build and launch the app; with block=False return at once (for tests)."""
    auth = auth_from_env()
    for warning in exposure_warnings(args.host, args.share, auth is not None):
        print(f"warning: {warning}", file=sys.stderr)
    for path in (args.mnist_checkpoint, args.cifar_checkpoint):
        if not Path(path).is_file():
            print(f"warning: no checkpoint at {path}; its tab will say so until you train and load one.",
                  file=sys.stderr)
    runs = RunManager(args.runs_dir, args.data_dir, args.allow_any_path, args.device,
                      protected=(args.mnist_checkpoint, args.cifar_checkpoint))
    runs.warm_up_in_background()
    demo = build_app(args.mnist_checkpoint, args.cifar_checkpoint, runs, args.upload_ttl)
    demo.runs = runs
    demo.queue(default_concurrency_limit=4)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, auth=auth,
                max_file_size=MAX_UPLOAD, css=CSS, footer_links=["api"], run_history=False,
                show_error=False, prevent_thread_lock=not block, quiet=not block)
    return demo


def main(argv=None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    serve(parse_args(argv))


if __name__ == "__main__":
    main()
