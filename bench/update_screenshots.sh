#!/usr/bin/env bash
# Retakes the README's screenshots (docs/screenshots/*.png) on purpose: the browser tests, with
# CNN_UPDATE_SCREENSHOTS=1, save them there instead of the git-ignored .scratch/screenshots/.
# Then look at them and commit the ones that changed. Needs what the browser tests need (Debian's
# chromium, the shipped checkpoints, the data sets in $CNN_DATA_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
export CNN_UPDATE_SCREENSHOTS=1 GRADIO_ANALYTICS_ENABLED=False
python -m pytest -q -p no:cacheprovider \
  tests/test_browser_views.py::test_draw_a_digit_and_read_the_label \
  tests/test_browser_views.py::test_upload_a_photo_and_see_probabilities \
  tests/test_browser_views.py::test_look_inside_the_network \
  tests/test_browser.py::test_train_to_the_end_and_use_the_model \
  tests/test_runs_browser.py tests/test_teach_browser.py::test_the_teach_tab_screenshot \
  tests/test_probe_browser.py tests/test_attack_browser.py "$@"
git status --short docs/screenshots
