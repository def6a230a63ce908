"""Re-fetch the GraphiQL console assets from the npm registry, pinned and integrity-checked.

Police networks are offline, so the console's scripts and styles ship inside the package
(fusion/resources/graphiql/). This script is the only way they change: it fetches each pinned
package with the ordinary npm client (`npm view`, `npm pack`), checks that the registry still
reports the pinned `dist.integrity` and that the tarball hashes to it, copies the named files
out byte for byte, and rewrites MANIFEST.json (sha256 and size of every asset) which the tests
check the vendored files against.

Usage: python scripts/vendor_graphiql.py [--dest DIR]
To move to a new version, change PINS (version and the registry's integrity) and run it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DEST = Path(__file__).resolve().parent.parent / "fusion" / "resources" / "graphiql"


@dataclass(frozen=True)
class Pin:
    """One npm package version and the files taken from its tarball (asset name -> member)."""

    package: str
    version: str
    integrity: str
    license: str
    files: dict[str, str]


PINS: tuple[Pin, ...] = (
    Pin(
        "react",
        "18.3.1",
        "sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ==",
        "MIT",
        {
            "react.production.min.js": "package/umd/react.production.min.js",
            "LICENSE.react": "package/LICENSE",
        },
    ),
    Pin(
        "react-dom",
        "18.3.1",
        "sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw==",
        "MIT",
        {
            "react-dom.production.min.js": "package/umd/react-dom.production.min.js",
            "LICENSE.react-dom": "package/LICENSE",
        },
    ),
    Pin(
        "graphiql",
        "3.9.0",
        "sha512-rJYFlHdBbug9+YbFSwRVvgfPjCayC7wHecZkx/qB4XLuQPFQZw/yB9pmHFtOJV6RiNBBHro3u1GdocKa3YcGRA==",
        "MIT",
        {
            "graphiql.min.js": "package/graphiql.min.js",
            "graphiql.min.css": "package/graphiql.min.css",
            "LICENSE.graphiql": "package/LICENSE",
        },
    ),
)


def sri_sha512(data: bytes) -> str:
    """Subresource-integrity string (as npm's dist.integrity) of data."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def _npm(*args: str, cwd: Path | None = None) -> str:
    result = subprocess.run(
        ["npm", *args], cwd=cwd, check=True, capture_output=True, text=True
    )
    return result.stdout


def registry_integrity(pin: Pin) -> str:
    """The dist.integrity the registry reports for the pinned version."""
    return json.loads(_npm("view", f"{pin.package}@{pin.version}", "dist.integrity", "--json"))


def fetch_tarball(pin: Pin, workdir: Path) -> Path:
    """Download the package tarball with `npm pack` and check it against the pin."""
    reported = registry_integrity(pin)
    if reported != pin.integrity:
        raise SystemExit(f"{pin.package}@{pin.version}: registry reports {reported}, "
                         f"pinned {pin.integrity}")
    packed = json.loads(_npm("pack", f"{pin.package}@{pin.version}", "--json", cwd=workdir))
    tarball = workdir / packed[0]["filename"]
    actual = sri_sha512(tarball.read_bytes())
    if actual != pin.integrity:
        raise SystemExit(f"{tarball.name}: hashes to {actual}, expected {pin.integrity}")
    return tarball


def extract(pin: Pin, tarball: Path, dest: Path) -> dict[str, dict]:
    """Copy the pinned members out of the tarball; returns manifest entries."""
    entries: dict[str, dict] = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for asset, member in pin.files.items():
            handle = archive.extractfile(member)
            if handle is None:
                raise SystemExit(f"{tarball.name}: {member} is not a regular file")
            data = handle.read()
            (dest / asset).write_bytes(data)
            entries[asset] = {
                "package": pin.package,
                "version": pin.version,
                "member": member,
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
            }
    return entries


def vendor(dest: Path, pins: tuple[Pin, ...] = PINS) -> dict:
    """Fetch every pin into dest and write MANIFEST.json; returns the manifest."""
    dest.mkdir(parents=True, exist_ok=True)
    manifest: dict = {
        "packages": {p.package: {"version": p.version, "integrity": p.integrity,
                                 "license": p.license} for p in pins},
        "assets": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for pin in pins:
            tarball = fetch_tarball(pin, Path(tmp))
            manifest["assets"].update(extract(pin, tarball, dest))
            print(f"{pin.package}@{pin.version}: ok", file=sys.stderr)
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    (dest / "MANIFEST.json").write_text(text, encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None, *, pins: tuple[Pin, ...] = PINS,
         default_dest: Path = DEFAULT_DEST, description: str = __doc__) -> int:
    """The command line of a vendoring script (this one, or another with its own pins)."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=default_dest,
                        help="directory to write the assets into")
    args = parser.parse_args(argv)
    vendor(args.dest, pins)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
