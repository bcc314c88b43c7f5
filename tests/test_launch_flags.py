"""The launcher's logins from the environment and its warnings when others can reach the app
(moved from test_app_api.py, which grew past the file limit)."""

from __future__ import annotations

import os

import pytest
from app_helpers import launch
from test_app_api import seven, top

CIFAR = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
DIGITS = [str(i) for i in range(10)]


def test_login_from_environment(tmp_path, monkeypatch):
    from gradio_client import Client

    monkeypatch.setenv("CNN_AUTH", "ada:lovelace-1843")
    demo, url = launch(tmp_path / "runs")
    try:
        from gradio_client.exceptions import AuthenticationError

        with pytest.raises(AuthenticationError, match="credentials were not provided"):
            Client(url, verbose=False)
        c = Client(url, auth=("ada", "lovelace-1843"), verbose=False)
        path = tmp_path / "seven.png"
        seven().save(path)
        from gradio_client import handle_file

        assert top(c.predict(handle_file(str(path)), api_name="/predict_digit")) == "7"
    finally:
        demo.close()


def test_exposure():
    from ui import launch as ui_launch

    args = ui_launch.parse_args([])
    assert args.host == "127.0.0.1" and not args.share and not args.allow_any_path
    assert ui_launch.exposure_warnings("127.0.0.1", False, False) == []
    (lan,) = ui_launch.exposure_warnings("0.0.0.0", False, False)
    assert "reachable from other computers" in lan and "CNN_AUTH" in lan
    (share,) = ui_launch.exposure_warnings("127.0.0.1", True, True)
    assert "share link" in share and "CNN_AUTH" not in share
    os.environ["CNN_AUTH"] = "nopassword"
    try:
        with pytest.raises(SystemExit, match="user:password"):
            ui_launch.auth_from_env()
    finally:
        del os.environ["CNN_AUTH"]
