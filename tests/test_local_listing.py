"""Our local folder listing yields exactly what dlt's filesystem source lists: the same files,
field for field (a file's fingerprint in dlt's state is its size and modification date, so a
difference would make every file of an existing warehouse look changed)."""

from __future__ import annotations

import os
import random
from pathlib import Path

from dlt.sources.filesystem import filesystem

from pipelines.archive.local_listing import list_local_files


def _dlt_listing(root: Path) -> dict[str, dict]:
    items = filesystem(bucket_url=str(root), file_glob="**/*", files_per_page=10_000)
    return {item["relative_path"]: dict(item) for item in items}


def _tree(root: Path) -> Path:
    rng = random.Random(7)
    names = [
        "2024/08/17/a.jsonl",
        "2024/08/17/b.json.gz",
        "2024/08/18/with space é.ndjson",
        "2024/08/18/percent%20sign#hash.jsonl",
        "notes.csv",
        "no-extension",
        # the MIME type is found once per ending: names whose stems hold dots, odd cases
        "2024/08/19/hooks.2024.08.19.jsonl.gz",
        "2024/08/19/A.JSON",
        "2024/08/19/x.json.GZ",
        "2024/08/19/archive.tgz",
        "2024/08/19/two..gz",
        "2024/08/19/trailing.",
        ".hidden.json",
        "2024/.hidden-folder/c.jsonl",
        "deep/" * 6 + "d.json",
    ]
    for index, name in enumerate(names):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"{}\n" * index)
    for path in root.rglob("*"):  # sub-microsecond modification times
        if path.is_file():
            stamp = 1_700_000_000 + rng.random() * 50_000_000
            os.utime(path, ns=(int(stamp * 1e9), int(stamp * 1e9) + rng.randrange(1000)))
    outside = root.parent / "outside"
    (outside / "inner").mkdir(parents=True)
    (outside / "inner" / "linked.jsonl").write_bytes(b"{}\n")
    (outside / "target.json").write_bytes(b"[]")
    (root / "linked-folder").symlink_to(outside / "inner")
    (root / "2024" / "linked-file.json").symlink_to(outside / "target.json")
    return root


def test_the_listing_equals_dlts(tmp_path: Path) -> None:
    root = _tree(tmp_path / "archive")
    theirs = _dlt_listing(root)
    ours = {item["relative_path"]: dict(item) for item in list_local_files(str(root))}
    assert ours == theirs
    assert "linked-folder/linked.jsonl" in ours and "2024/linked-file.json" in ours
    assert ours["2024/linked-file.json"]["file_url"].endswith("/outside/target.json")
    assert not any(path.startswith(".") or "/." in path for path in ours)
    assert len(ours) == 15


def test_listed_files_open_and_read(tmp_path: Path) -> None:
    root = _tree(tmp_path / "archive")
    by_path = {item["relative_path"]: item for item in list_local_files(str(root))}
    with by_path["2024/08/17/b.json.gz"].open(mode="rb", compression="disable") as stream:
        assert stream.read() == b"{}\n"


def test_a_symlink_cycle_is_listed_once(tmp_path: Path) -> None:
    # dlt's glob goes round it until the path is too long, then fails the listing
    root = _tree(tmp_path / "archive")
    (root / "2024" / "loop").symlink_to(root / "2024", target_is_directory=True)
    paths = [item["relative_path"] for item in list_local_files(str(root))]
    assert len(paths) == 15 and len(set(paths)) == 15


def test_a_dangling_symlink_is_left_out(tmp_path: Path) -> None:
    # dlt's listing fails on it; it is not a file
    root = _tree(tmp_path / "archive")
    (root / "2024" / "gone.jsonl").symlink_to(tmp_path / "nowhere.jsonl")
    paths = [item["relative_path"] for item in list_local_files(str(root))]
    assert len(paths) == 15 and "2024/gone.jsonl" not in paths
