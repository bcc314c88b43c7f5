"""A project as a .zip and back: the class-folder layout (class/image.png), with project.json so the
class names come back exactly as typed.

Importing takes untrusted zips. The zip is refused whole, before anything is written, when it is
larger than MAX_ZIP_BYTES, holds a path that leaves its folder ('../', an absolute path, a drive, a
link), folders nested deeper than class/file, more than MAX_FILES files or MAX_TOTAL_BYTES
uncompressed, or a file that expands more than MAX_RATIO times (a zip bomb); sizes are checked
again while reading, so a lying header gains nothing. Files that are no images, or that the
project refuses (a blank drawing, a photo in a drawings project), are skipped and counted.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..atomic import atomic_path
from ..errors import DataError, ImageError
from .examples import MAX_UPLOAD_BYTES
from .store import MANIFEST, Project, clean_name

MAX_ZIP_BYTES = 100 * 2**20
MAX_TOTAL_BYTES = 400 * 2**20
MAX_FILES = 5000
MAX_RATIO = 100  # uncompressed / compressed size of one file, above a megabyte
_RATIO_FLOOR = 2**20
_IGNORED = ("__MACOSX",)


@dataclass
class ImportResult:
    added: int = 0
    new_classes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "path: why", one per file left out

    def summary(self) -> str:
        text = f"Added {self.added} example(s)"
        if self.new_classes:
            text += f" and {len(self.new_classes)} new class(es) ({', '.join(self.new_classes)})"
        if self.skipped:
            text += f"; skipped {len(self.skipped)} file(s) that are not usable images"
            text += f" (e.g. {self.skipped[0]})"
        return text + "."


def export_zip(project: Project, out: str | os.PathLike) -> Path:
    """The project (project.json and every class folder) as a zip file at `out`, written atomically."""
    m = project.manifest()
    out = Path(out)
    with atomic_path(out) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr(
                MANIFEST,
                json.dumps({k: m[k] for k in ("format", "name", "kind", "classes")}, indent=1, ensure_ascii=False),
            )
            for c in m["classes"]:
                for f in project.examples(c["name"]):
                    z.write(f, f"{c['folder']}/{f.name}")
    return out


def import_zip(project: Project, path: str | os.PathLike) -> ImportResult:
    """Add a zip's class folders to the project (new classes are created); see the module docstring."""
    path = Path(path)
    size = path.stat().st_size if path.is_file() else 0
    if not size:
        raise DataError(f"There is no zip file at {path.name}, or it is empty.")
    if size > MAX_ZIP_BYTES:
        raise DataError(f"{path.name} is {size / 2**20:.0f} MB; zips up to {MAX_ZIP_BYTES // 2**20} MB are accepted.")
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise DataError(
            f"{path.name} is not a zip file (or it is damaged). Zip the class folders and upload that."
        ) from None
    with z:
        files, names, result = _plan(z, path.name)
        existing = {n.casefold(): n for n in project.class_names()}
        for folder in sorted(files):
            typed = clean_name(names.get(folder, folder))
            if typed.casefold() not in existing:
                project.add_class(typed)
                existing[typed.casefold()] = typed
                result.new_classes.append(typed)
            for info in files[folder]:
                try:
                    project.add_example(existing[typed.casefold()], _read(z, info))
                    result.added += 1
                except ImageError as exc:
                    result.skipped.append(f"{info.filename}: {exc}")
    return result


def _plan(z: zipfile.ZipFile, zip_name: str) -> tuple[dict, dict, ImportResult]:
    """Check every entry; (class folder -> its files' entries, class folder -> typed name, result)."""
    result, total, entries = ImportResult(), 0, []
    for info in z.infolist():
        parts = _safe_parts(info, zip_name)
        if info.is_dir() or not parts or any(p.startswith(".") or p in _IGNORED for p in parts):
            continue
        total += info.file_size
        if (
            info.file_size > _RATIO_FLOOR and info.file_size > MAX_RATIO * max(1, info.compress_size)
        ) or total > MAX_TOTAL_BYTES:
            raise DataError(
                f"{zip_name} expands to more than {MAX_TOTAL_BYTES // 2**20} MB, or packs one file "
                f"{MAX_RATIO} times smaller than it is (a zip bomb?); it is refused."
            )
        entries.append((parts, info))
    if len(entries) > MAX_FILES:
        raise DataError(f"{zip_name} holds {len(entries)} files; at most {MAX_FILES} are accepted at once.")
    tops = {parts[0] for parts, _ in entries}
    if len(tops) == 1 and all(len(p) > 1 for p, _ in entries) and any(len(p) == 3 for p, _ in entries):
        entries = [(parts[1:], info) for parts, info in entries]  # one folder around the class folders
    names, files = {}, defaultdict(list)
    for parts, info in entries:
        if len(parts) > 2:
            raise DataError(
                f"{zip_name} holds nested folders ({'/'.join(parts)}): put each class's images "
                f"in one folder named after the class, as class/image.png."
            )
        if parts == (MANIFEST,):
            names = _typed_names(z, info)
        elif len(parts) == 1:
            result.skipped.append(f"{parts[0]}: not in a class folder")
        else:
            files[parts[0]].append(info)
    if not files:
        raise DataError(f"{zip_name} holds no class folders with images (lay it out as class/image.png).")
    return files, names, result


def _safe_parts(info: zipfile.ZipInfo, zip_name: str) -> tuple[str, ...]:
    name = info.filename.replace("\\", "/")
    parts = tuple(p for p in PurePosixPath(name).parts if p not in ("", "."))
    is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts or is_link:
        raise DataError(
            f"{zip_name} holds an unsafe path ({info.filename!r}: it would leave its folder); the zip is refused."
        )
    return parts


def _read(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The file's bytes, read no further than the upload limit (whatever its header claims)."""
    with z.open(info) as f:
        data = f.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(f"larger than {MAX_UPLOAD_BYTES // 2**20} MB")
    return data


def _typed_names(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict[str, str]:
    """Folder -> class name as typed, from an exported project.json (ignored when unreadable)."""
    try:
        m = json.loads(_read(z, info).decode("utf-8"))
        return {str(c["folder"]): str(c["name"]) for c in m.get("classes", [])}
    except (ValueError, KeyError, TypeError, AttributeError, ImageError):
        return {}
