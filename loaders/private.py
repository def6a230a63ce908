"""Everything Fusion writes under FUSION_HOME is private to its user: files 0600, folders 0700.

Case data (event-store parts, quarantined rows with whole source lines) must not be readable by
other accounts on the machine, whatever the process umask is; so the writers set modes
explicitly, and :func:`make_private` repairs a tree written before they did.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
PRIVATE_UMASK = 0o077


def private_dir(path: Path, top: Path) -> Path:
    """Create ``path`` (and its parents from ``top`` down) as folders only the user can enter."""
    path, top = Path(path), Path(top)
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    for folder in (path, *path.relative_to(top).parents):
        target = folder if folder.is_absolute() else top / folder
        if stat.S_IMODE(target.stat().st_mode) != DIR_MODE:
            os.chmod(target, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Make ``path`` readable and writable by its user only."""
    os.chmod(path, FILE_MODE)
    return path


def make_private(tree: Path) -> int:
    """Take group and other permission bits off ``tree`` and everything in it that the user
    owns (symbolic links are left alone); returns how many entries changed."""
    changed = 0
    uid = os.geteuid()
    for entry in _entries(Path(tree)):
        st = entry.lstat()
        if stat.S_ISLNK(st.st_mode) or st.st_uid != uid or not st.st_mode & 0o077:
            continue
        os.chmod(entry, stat.S_IMODE(st.st_mode) & ~0o077)
        changed += 1
    return changed


def _entries(tree: Path) -> Iterator[Path]:
    if not tree.exists():
        return
    yield tree
    for folder, dirs, files in os.walk(tree):
        for name in (*dirs, *files):
            yield Path(folder) / name
