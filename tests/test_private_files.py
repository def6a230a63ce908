"""Everything under FUSION_HOME is private to its user: no group or other permission bits on
any file or folder after a managed db start and a load, even with a permissive umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from fusion.config import Settings
from loaders.private import make_private, private_dir

BOLT = int(os.environ.get("FUSION_TEST_LIFECYCLE_BOLT_PORT", "27687"))
HTTP = int(os.environ.get("FUSION_TEST_LIFECYCLE_HTTP_PORT", "27474"))


def _open_entries(tree: Path) -> list[str]:
    """Entries of ``tree`` (itself included) that group or others may use."""
    found = []
    for folder, dirs, files in os.walk(tree):
        for path in (Path(folder), *(Path(folder) / n for n in (*dirs, *files))):
            mode = path.lstat().st_mode
            if not stat.S_ISLNK(mode) and mode & 0o077:
                found.append(f"{path.relative_to(tree)} {stat.filemode(mode)}")
    return sorted(set(found))


@pytest.fixture
def open_umask():
    """A permissive umask (0022) for the test, as many machines have."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _calls(path: Path) -> Path:
    path.write_text("caller,callee,start_time,duration_s,call_type\n"
                    "13800000001,13900000001,2024-03-01 10:00:00,30,voice\n"
                    "13800000002,12,2024-03-01 10:05:00,30,voice\n")  # quarantined
    return path


@pytest.mark.neo4j
@pytest.mark.slow
def test_home_is_private_after_a_db_start_and_a_load(tmp_path: Path, open_umask) -> None:
    from fusion.db import connect
    from fusion.managed import ManagedNeo4j
    from loaders.ingest import load_files

    home = tmp_path / "home"
    (home / "events" / "calls" / "parts").mkdir(parents=True, mode=0o755)  # written before
    os.chmod(home, 0o755)
    (home / "events" / "calls" / "parts" / "old.parquet").write_bytes(b"x")
    (home / "notes.txt").write_text("not Fusion's\n")  # FUSION_HOME shared with other files
    settings = Settings(home=home, db_bolt_port=BOLT, db_http_port=HTTP, db_heap="512m",
                        db_pagecache="256m", neo4j_uri=None)
    server = ManagedNeo4j(settings)
    try:
        server.start()
        with connect(settings) as driver:
            summary = load_files(driver, settings.neo4j_database, home, "calls",
                                 [_calls(tmp_path / "calls.csv")], "330100")
        assert summary.loads[0].quarantine_file is not None
        assert summary.loads[0].quarantine_file.is_relative_to(home)
        assert _open_entries(home) == ["notes.txt -rw-r--r--"]
    finally:
        server.stop()
    assert _open_entries(home) == ["notes.txt -rw-r--r--"]  # only Fusion's own entries change


def test_make_private_takes_group_and_other_bits_off(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for path, mode in ((tmp_path / "a", 0o755), (tmp_path / "a" / "b", 0o775)):
        os.chmod(path, mode)
    script = tmp_path / "a" / "run.sh"
    script.write_text("#!/bin/sh\n")
    os.chmod(script, 0o755)
    data = tmp_path / "a" / "b" / "data.csv"
    data.write_text("x\n")
    os.chmod(data, 0o666)
    (tmp_path / "a" / "link").symlink_to(data)
    assert make_private(tmp_path / "a") == 4
    assert _open_entries(tmp_path / "a") == []
    assert stat.S_IMODE(script.stat().st_mode) == 0o700  # the owner keeps what it had
    assert stat.S_IMODE(data.stat().st_mode) == 0o600
    assert make_private(tmp_path / "a") == 0


def test_private_dir_creates_every_level_private(tmp_path: Path, open_umask) -> None:
    top = tmp_path / "home"
    private_dir(top / "events" / "calls" / "parts", top)
    assert _open_entries(top) == []
