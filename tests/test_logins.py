"""Who may log in (ui.logins): several user:password pairs in CNN_AUTH, or a file of them; user names
that cannot be folder names, or differ only in case, are refused at startup; no message shows a
password."""

from __future__ import annotations

import pytest

from ui import launch as ui_launch
from ui.logins import LoginError, logins_from_env


def test_several_pairs_in_cnn_auth():
    got = logins_from_env({"CNN_AUTH": "ada:one, bob:two:with:colons ,eve.s_1-x:3"})
    assert got == [("ada", "one"), ("bob", "two:with:colons"), ("eve.s_1-x", "3")]


def test_one_pair_as_before():
    assert logins_from_env({"CNN_AUTH": "ada:lovelace-1843"}) == [("ada", "lovelace-1843")]
    assert logins_from_env({}) is None and logins_from_env({"CNN_AUTH": "  "}) is None


def test_a_file_of_pairs_by_either_name(tmp_path):
    f = tmp_path / "class.txt"
    f.write_text("# teacher and pupils\nteacher:s3cret, with a comma\n\n  pupil-01:p1  \n")
    want = [("teacher", "s3cret, with a comma"), ("pupil-01", "p1")]
    assert logins_from_env({"CNN_AUTH": f"@{f}"}) == want
    assert logins_from_env({"CNN_AUTH_FILE": str(f)}) == want


@pytest.mark.parametrize(
    "env, says",
    [
        ({"CNN_AUTH": "ada:one,../etc:two"}, "entry 2: The user name '../etc' cannot be a folder name"),
        ({"CNN_AUTH": "ada:one,.hidden:two"}, "entry 2: The user name '.hidden' cannot be a folder name"),
        ({"CNN_AUTH": "a b:one"}, "entry 1: The user name 'a b' cannot be a folder name"),
        ({"CNN_AUTH": "ada:one,Ada:two"}, "entry 2: the user 'Ada' is there already ('ada')"),
        ({"CNN_AUTH": "ada:one,bob"}, "entry 2: each login must look like user:password"),
        ({"CNN_AUTH": "ada:"}, "entry 1: each login must look like user:password"),
        ({"CNN_AUTH": "x:y", "CNN_AUTH_FILE": "f"}, "not both"),
        ({"CNN_AUTH_FILE": "/no/such/file"}, "Cannot read the logins file /no/such/file"),
    ],
)
def test_bad_logins_are_refused_naming_the_entry_not_the_password(env, says):
    with pytest.raises(LoginError) as exc:
        logins_from_env(env)
    assert says in str(exc.value)
    assert "one" not in str(exc.value).replace("done", "") and "two" not in str(exc.value)


def test_an_empty_file_is_refused(tmp_path):
    f = tmp_path / "empty.txt"
    f.write_text("# nobody yet\n")
    with pytest.raises(LoginError, match="holds no logins"):
        logins_from_env({"CNN_AUTH_FILE": str(f)})


def test_the_app_does_not_start_with_a_bad_login(monkeypatch, capsys):
    monkeypatch.setenv("CNN_AUTH", "ada:pw-of-ada,../x:pw-of-x")
    with pytest.raises(SystemExit) as exc:
        ui_launch.auth_from_env()
    assert "cannot be a folder name" in str(exc.value) and "pw-of" not in str(exc.value)
