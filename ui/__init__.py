"""The CNN Playground's browser app (Gradio): one module per tab, wired to the `cnn` package.

ui.app      build_app: the tabs put together, the named API endpoints, CSS and JS
ui.launch   the command line (python app.py, cnn-playground): parse_args, serve, main
ui.common   the shared context, friendly errors, raw uploads
ui.run_view how a training run looks on the page
ui.draw_tab, ui.photo_tab, ui.train_tab, ui.inside_tab: each builds its tab and wires its
            handlers, plain functions that tests call without a server.
"""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
