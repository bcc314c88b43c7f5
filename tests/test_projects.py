"""Projects ("Teach it your own classes", cnn.projects): names, examples, zips, limits, concurrent
sessions, and projects as training data. Each refusal is checked by its message."""

from __future__ import annotations

import io
import json
import re
import shutil
import threading
import zipfile
from pathlib import Path

import pytest
from app_helpers import ROOT
from PIL import Image, ImageDraw

from cnn.errors import DataError, ImageError
from cnn.projects import Project, archive, examples, export_zip, import_zip, load_project, load_training_data, prepare

TRUCK = ROOT / "examples" / "truck.png"


def stroke(kind: str, k: int = 0, size: int = 420) -> Image.Image:
    """A Sketchpad-like drawing (RGBA, transparent ground): a 'ring' or a 'bar', varied by k."""
    im = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    o = 20 * (k % 5)
    if kind == "ring":
        d.ellipse([80 + o, 80, 300 + o, 320 - o], outline=(0, 0, 0, 255), width=16 + 2 * (k % 3))
    else:
        d.line([(100 + o, 60), (140 + o, 360 - o)], fill=(0, 0, 0, 255), width=18 + 2 * (k % 3))
    return im


def png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture()
def project(tmp_path) -> Project:
    return Project.create("Shapes", "drawings", data_dir=tmp_path)


def filled(project: Project, per_class=(3, 3), names=("ring", "bar")) -> Project:
    for name, n in zip(names, per_class):
        project.add_class(name)
        for k in range(n):
            project.add_example(name, stroke(name, k))
    return project


# ---------------------------------------------------------------- training data


def test_fewer_than_two_classes_or_an_empty_class_is_refused(project):
    with pytest.raises(DataError, match="has no classes yet: teaching needs at least two classes"):
        load_project(project.path)
    project.add_class("ring")
    project.add_example("ring", stroke("ring"))
    with pytest.raises(DataError, match="has only the class 'ring': teaching needs at least two classes"):
        load_project(project.path)
    project.add_example("ring", stroke("ring", 1))
    project.add_class("bar")
    with pytest.raises(DataError, match="The class 'bar' has no examples yet: add at least two"):
        load_project(project.path)


def test_a_class_with_a_single_example_is_refused(project):
    filled(project, (3, 1))
    with pytest.raises(DataError, match="The class 'bar' has only one example: add at least one more"):
        load_project(project.path)


def test_a_project_loads_as_its_tabs_prepare_images_with_a_fixed_held_out_share(project, tmp_path):
    filled(project, (6, 2))
    data = load_project(project.path)
    assert data.classes == ["ring", "bar"] and data.name == str(project.path.resolve())
    assert tuple(data.train.images.shape[1:]) == (1, 28, 28) and data.train.images.dtype.is_floating_point is False
    assert sorted(data.test.labels.tolist()) == [0, 1] and len(data.train) == 6  # 1 of 6 and 1 of 2 held out
    assert load_project(project.path).test.images.equal(data.test.images)  # the same share each time
    expected, _ = prepare("drawings", project.examples("bar")[0])
    assert any(expected.equal(x) for x in data.train.images) or any(expected.equal(x) for x in data.test.images)
    # the one loader for any training data: a project folder (relative to the data directory) or not
    same = load_training_data("projects/" + project.path.name, tmp_path)
    assert same.classes == data.classes and len(same.test) == 2


# ---------------------------------------------------------------- names


def test_class_names_are_kept_as_typed_and_stored_safely(project):
    typed = ["a/b", "..", ".", "x.y", "big   dog", "猫", "Ёлка", "../../etc"]
    for name in typed:
        project.add_class(name)
    shown = [" ".join(n.split()) for n in typed]
    assert project.class_names() == shown
    manifest = json.loads((project.path / "project.json").read_text(encoding="utf-8"))
    folders = [c["folder"] for c in manifest["classes"]]
    assert len(set(folders)) == len(folders)
    for folder in folders:
        assert re.fullmatch(r"[a-z0-9][a-z0-9_-]*", folder) and (project.path / folder).is_dir()
    assert sorted(p.name for p in project.path.iterdir() if p.is_dir()) == sorted(folders)
    assert not (project.path.parent / "etc").exists()


def test_duplicate_and_empty_names_are_refused(project, tmp_path):
    project.add_class("Cat")
    with pytest.raises(DataError, match="There is already a class named 'cat'; class names must differ"):
        project.add_class(" cat ")
    project.add_class("dog")
    with pytest.raises(DataError, match="There is already a class named 'CAT'"):
        project.rename_class("dog", "CAT")
    with pytest.raises(DataError, match="Give the class a name"):
        project.add_class("   ")
    with pytest.raises(DataError, match="There is already a project named 'shapes'"):
        Project.create("shapes", "photos", data_dir=tmp_path)
    project.rename_class("dog", "chien / hund")
    assert project.class_names() == ["Cat", "chien / hund"]


# ---------------------------------------------------------------- examples


def test_a_blank_drawing_or_a_dot_is_refused(project):
    project.add_class("ring")
    with pytest.raises(ImageError, match="The drawing is blank"):
        project.add_example("ring", Image.new("RGBA", (420, 420), (0, 0, 0, 0)))
    dot = Image.new("RGBA", (420, 420), (0, 0, 0, 0))
    ImageDraw.Draw(dot).ellipse([200, 200, 215, 215], fill=(0, 0, 0, 255))
    with pytest.raises(ImageError, match="The drawing is only a dot"):
        project.add_example("ring", dot)
    assert project.examples("ring") == []


def test_a_photo_given_to_a_drawings_project_is_refused_and_kept_by_a_photos_project(project, tmp_path):
    """A drawing is strokes on a plain ground; a photo has 'ink' everywhere or a many-coloured border."""
    project.add_class("ring")
    with pytest.raises(ImageError, match="This looks like a photo, not a drawing"):
        project.add_example("ring", TRUCK)
    photos = Project.create("Vehicles", "photos", data_dir=tmp_path)
    photos.add_class("truck")
    photos.add_example("truck", TRUCK)
    x, _ = prepare("photos", photos.examples("truck")[0])
    assert tuple(x.shape) == (3, 32, 32)


def test_an_upload_over_the_size_limit_is_refused(project, tmp_path, monkeypatch):
    project.add_class("ring")
    big = b"\x89PNG" + bytes(examples.MAX_UPLOAD_BYTES)
    with pytest.raises(ImageError, match=r"is 20\.0 MB; examples up to 20 MB are accepted"):
        project.add_example("ring", big)
    f = tmp_path / "huge.png"
    f.write_bytes(big)
    with pytest.raises(ImageError, match=r"huge\.png is 20\.0 MB; examples up to 20 MB"):
        project.add_example("ring", f)
    monkeypatch.setattr(archive, "MAX_ZIP_BYTES", 1000)
    z = tmp_path / "big.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("ring/a.png", bytes(5000))
    with pytest.raises(DataError, match="big.zip is 0 MB; zips up to 0 MB are accepted"):
        import_zip(project, z)


def test_remove_one_example_and_delete_a_class(project):
    filled(project, (3, 2))
    victim = project.examples("ring")[1]
    project.remove_example("ring", victim.name)
    assert len(project.examples("ring")) == 2 and not victim.exists()
    with pytest.raises(DataError, match="has no example"):
        project.remove_example("ring", "../project.json")
    assert (project.path / "project.json").exists()
    folder = project.path / [c.folder for c in project.classes() if c.name == "bar"][0]
    project.delete_class("bar")
    assert project.class_names() == ["ring"] and not folder.exists()


# ---------------------------------------------------------------- zips


def make_zip(path: Path, entries: dict) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize("bad", ["../evil.png", "ring/../../evil.png", "/etc/evil.png", "C:\\evil.png"])
def test_a_zip_with_a_path_leaving_its_folder_is_refused(project, tmp_path, bad):
    z = make_zip(tmp_path / "bad.zip", {"ring/ok.png": png(stroke("ring")), bad: png(stroke("bar"))})
    with pytest.raises(DataError, match="holds an unsafe path .* the zip is refused"):
        import_zip(project, z)
    assert project.class_names() == [] and not (tmp_path / "evil.png").exists()


def test_a_zip_bomb_is_refused(project, tmp_path):
    z = make_zip(tmp_path / "bomb.zip", {"ring/a.png": bytes(30 * 2**20)})  # 30 MB of zeros in ~30 KB
    assert z.stat().st_size < 2**20
    with pytest.raises(DataError, match="a zip bomb"):
        import_zip(project, z)
    assert project.class_names() == []


def test_a_zip_with_nested_folders_is_refused(project, tmp_path):
    z = make_zip(
        tmp_path / "deep.zip", {"top/ring/more/a.png": png(stroke("ring")), "top/bar/b.png": png(stroke("bar"))}
    )
    with pytest.raises(DataError, match=r"holds nested folders \(ring/more/a.png\)"):
        import_zip(project, z)


def test_non_images_in_a_zip_are_skipped_and_counted(project, tmp_path):
    z = make_zip(
        tmp_path / "mixed.zip",
        {
            "shapes/ring/a.png": png(stroke("ring", 0)),
            "shapes/ring/b.png": png(stroke("ring", 1)),
            "shapes/bar/c.png": png(stroke("bar", 0)),
            "shapes/bar/notes.txt": b"not an image",
            "shapes/bar/blank.png": png(Image.new("RGBA", (420, 420))),
            "shapes/readme.md": b"hi",
            "__MACOSX/shapes/ring/._a.png": b"junk",
        },
    )
    r = import_zip(project, z)
    assert (r.added, len(r.skipped), sorted(r.new_classes)) == (3, 3, ["bar", "ring"])
    assert "skipped 3 file(s) that are not usable images" in r.summary()
    assert any("notes.txt" in s and "text file" in s for s in r.skipped)
    assert any("blank.png" in s and "blank" in s for s in r.skipped)


def test_export_then_import_keeps_the_typed_names(project, tmp_path):
    filled(project, (2, 2), names=("a/b ✓", "猫"))
    z = export_zip(project, tmp_path / "out" / "shapes.zip")
    other = Project.create("Copy", "drawings", data_dir=tmp_path)
    r = import_zip(other, z)
    assert r.added == 4 and not r.skipped and other.class_names() == ["a/b ✓", "猫"]
    assert [c.count for c in other.classes()] == [2, 2]


# ---------------------------------------------------------------- sessions


def test_two_sessions_adding_to_one_project_lose_nothing(project):
    project.add_class("ring")
    errors = []

    def session(k):
        try:
            p = Project(project.path)  # each session opens the project itself
            for i in range(12):
                p.add_example("ring", stroke(("ring", "bar")[k], i))  # 24 different drawings
                if i % 4 == 0:
                    p.add_class(f"class {k}-{i}")
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=session, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(project.examples("ring")) == 24
    assert sorted(project.class_names()) == sorted(["ring"] + [f"class {k}-{i}" for k in range(2) for i in (0, 4, 8)])


def test_the_same_example_twice_is_refused(project):
    """A drawing added twice (a double click, a canvas not cleared) is refused; the same drawing in
    another class, or one a pixel apart, is taken."""
    project.add_class("ring")
    project.add_class("bar")
    first = project.add_example("ring", stroke("ring", 1))
    with pytest.raises(DataError, match=f"already holds this very example \\({first.name}\\)"):
        project.add_example("ring", stroke("ring", 1))
    project.add_example("bar", stroke("ring", 1))
    moved = stroke("ring", 1)
    moved.putpixel((5, 5), (0, 0, 0, 255))
    project.add_example("ring", moved)
    assert [c.count for c in project.classes()] == [2, 1]


def test_a_project_deleted_meanwhile_says_so(project):
    filled(project, (2, 2))
    shutil.rmtree(project.path)
    for call in (
        lambda: project.add_example("ring", stroke("ring")),
        lambda: project.add_class("x"),
        project.classes,
        lambda: load_project(project.path),
    ):
        with pytest.raises(DataError, match="is gone: its folder was deleted or moved"):
            call()
