"""Re-fetch the workbench's browser libraries from the npm registry, pinned and integrity-checked.

The workbench (GET /) draws its link chart with Cytoscape.js and lays it out with the fCoSE
force-directed extension (cytoscape-fcose, which needs cose-base and layout-base). Police networks
are offline, so these ship inside the package (fusion/resources/workbench/vendor/) with their
licences. This script is the only way they change; it works like scripts/vendor_graphiql.py (and
reuses its fetching and checking): `npm view` must report the pinned integrity, the `npm pack`
tarball must hash to it, the named files are copied byte for byte, and MANIFEST.json records the
sha256 and size of every asset, which the tests check.

Usage: python scripts/vendor_workbench.py [--dest DIR]
To move to a new version, change PINS (version and the registry's integrity) and run it.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vendor_graphiql import Pin, main  # noqa: E402

DEFAULT_DEST = (Path(__file__).resolve().parent.parent / "fusion" / "resources" / "workbench"
                / "vendor")

PINS: tuple[Pin, ...] = (
    Pin(
        "cytoscape",
        "3.35.0",
        "sha512-sMvBIXiGMnhkCaWz2R06FwF/27MNlS+Tqvi17foO9UhnUg3XGZccKjxsvEqQFAQYMSSZmN5SxYzUYlQ0DOJJ3g==",
        "MIT",
        {"cytoscape.min.js": "package/dist/cytoscape.min.js",
         "LICENSE.cytoscape": "package/LICENSE"},
    ),
    Pin(
        "layout-base",
        "2.0.1",
        "sha512-dp3s92+uNI1hWIpPGH3jK2kxE2lMjdXdr+DH8ynZHpd6PUlH6x6cbuXnoMmiNumznqaNO31xu9e79F0uuZ0JFg==",
        "MIT",
        {"layout-base.js": "package/layout-base.js", "LICENSE.layout-base": "package/LICENSE"},
    ),
    Pin(
        "cose-base",
        "2.2.0",
        "sha512-AzlgcsCbUMymkADOJtQm3wO9S3ltPfYOFD5033keQn9NJzIbtnZj+UdBJe7DYml/8TdbtHJW3j58SOnKhWY/5g==",
        "MIT",
        {"cose-base.js": "package/cose-base.js", "LICENSE.cose-base": "package/LICENSE"},
    ),
    Pin(
        "cytoscape-fcose",
        "2.2.0",
        "sha512-ki1/VuRIHFCzxWNrsshHYPs6L7TvLu3DL+TyIGEsRcvVERmxokbf5Gdk7mFxZnTdiGtnA4cfSmjZJMviqSuZrQ==",
        "MIT",
        {"cytoscape-fcose.js": "package/cytoscape-fcose.js",
         "LICENSE.cytoscape-fcose": "package/LICENSE"},
    ),
)


if __name__ == "__main__":
    raise SystemExit(main(pins=PINS, default_dest=DEFAULT_DEST, description=__doc__))
