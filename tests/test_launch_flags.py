"""The launcher's logins from the environment, its warnings when others can reach the app, and an app
started without usable checkpoints (moved from test_app_api.py, which grew past the file limit)."""

from __future__ import annotations

import os

import pytest
from app_helpers import launch
from fuzz_inputs import seven
from test_app_api import top

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


def test_starts_without_checkpoints_and_says_so(tmp_path):
    from app_helpers import free_port
    from gradio_client import Client

    from ui import launch as ui_launch

    port = free_port()
    args = ui_launch.parse_args(
        [
            "--port",
            str(port),
            "--mnist-checkpoint",
            str(tmp_path / "none.safetensors"),
            "--cifar-checkpoint",
            str(tmp_path / "pickle.pt"),
            "--runs-dir",
            str(tmp_path / "runs"),
        ]
    )
    (tmp_path / "pickle.pt").write_bytes(b"\x80\x04\x95" + bytes(64))  # a torch.save pickle, never unpickled
    demo = ui_launch.serve(args, block=False)
    try:
        c = Client(f"http://127.0.0.1:{port}/", verbose=False)
        path = tmp_path / "seven.png"
        seven().save(path)
        from gradio_client import handle_file
        from gradio_client.exceptions import AppError

        with pytest.raises(AppError, match="No digit model checkpoint at .*none.safetensors"):
            c.predict(handle_file(str(path)), api_name="/predict_digit")
        with pytest.raises(AppError, match="PyTorch pickle .* refused"):
            c.predict(handle_file(str(path)), api_name="/predict_photo")
    finally:
        demo.close()
