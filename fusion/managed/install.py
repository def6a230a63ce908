"""Install Neo4j Community from Maven Central with Maven's dependency plugin.

The jars land in ``FUSION_HOME/neo4j/lib-<version>``; a marker file written last makes an
install atomic, so a second install (or an interrupted one followed by a retry) never
downloads what is already there. Maven's own local repository (``~/.m2``) is shared between
homes, so a fresh FUSION_HOME on a machine that installed once copies instead of downloading.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fusion.errors import EnvironmentMissing, FusionError

# The newest 5.26.x (the LTS line that runs on Java 17) published when this was written.
NEO4J_VERSION = "5.26.30"
# The machine's Maven defaults to a 2.x dependency plugin; copy-dependencies needs a 3.x one.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
SUPPORTED_JAVA = (17, 21)
_MARKER = "installed.json"

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.fusion</groupId>
  <artifactId>managed-neo4j</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.neo4j.app</groupId><artifactId>neo4j-server</artifactId><version>{version}</version>
    </dependency>
    <dependency>
      <groupId>org.neo4j</groupId><artifactId>neo4j</artifactId><version>{version}</version>
    </dependency>
  </dependencies>
</project>
"""


@dataclass(frozen=True)
class Installation:
    """An installed Neo4j: where its jars are and what was installed."""

    root: Path
    version: str
    jar_count: int
    size_bytes: int
    downloaded: bool

    @property
    def lib(self) -> Path:
        return self.root / f"lib-{self.version}"


def java_major_version(java: str = "java") -> int:
    """Major version of the ``java`` on PATH (raises EnvironmentMissing when absent)."""
    if shutil.which(java) is None:
        raise EnvironmentMissing(
            "Java is not installed: Neo4j 5.26 needs Java 17 or 21 "
            "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless)."
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise EnvironmentMissing(f"Cannot tell the Java version from: {out.stderr.strip()!r}")
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


def check_environment() -> None:
    """Fail early, naming what to install, when Java or Maven is missing or too old."""
    major = java_major_version()
    if major not in SUPPORTED_JAVA:
        raise EnvironmentMissing(
            f"Neo4j {NEO4J_VERSION} runs on Java 17 or 21, found Java {major} "
            "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless)."
        )
    if shutil.which("mvn") is None:
        raise EnvironmentMissing(
            "Maven is not installed: the managed Neo4j is installed from Maven Central with it "
            "(Debian/Ubuntu: apt-get install maven)."
        )


def read_installation(root: Path, version: str = NEO4J_VERSION) -> Installation | None:
    """The installation under ``root`` if one completed, else None."""
    marker = root / f"lib-{version}" / _MARKER
    if not marker.is_file():
        return None
    data = json.loads(marker.read_text())
    return Installation(root, data["version"], data["jar_count"], data["size_bytes"], False)


def ensure_installed(
    root: Path,
    version: str = NEO4J_VERSION,
    on_progress: Callable[[str], None] | None = None,
) -> Installation:
    """Install Neo4j ``version`` under ``root`` unless it already is; return the installation.

    ``on_progress`` receives one short line per artifact Maven resolves or downloads.
    """
    existing = read_installation(root, version)
    if existing is not None:
        return existing
    check_environment()
    root.mkdir(parents=True, exist_ok=True)
    work = root / f"lib-{version}.partial"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    pom = root / "pom.xml"
    pom.write_text(_POM.format(version=version))
    downloaded = _run_maven(pom, work, on_progress)
    jars = sorted(work.glob("*.jar"))
    if not any(j.name.startswith(f"neo4j-server-{version}") for j in jars):
        raise FusionError(f"Maven finished but neo4j-server-{version}.jar is not in {work}")
    size = sum(j.stat().st_size for j in jars)
    (work / _MARKER).write_text(
        json.dumps({"version": version, "jar_count": len(jars), "size_bytes": size})
    )
    final = root / f"lib-{version}"
    shutil.rmtree(final, ignore_errors=True)
    work.rename(final)
    return Installation(root, version, len(jars), size, downloaded)


def _run_maven(pom: Path, out: Path, on_progress: Callable[[str], None] | None) -> bool:
    """Run copy-dependencies; return whether anything was downloaded from the registry."""
    cmd = [
        "mvn", "-B", "-f", str(pom),
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        f"-DoutputDirectory={out}", "-DincludeScope=runtime",
    ]
    downloaded = False
    tail: list[str] = []
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail = (tail + [line.rstrip()])[-40:]
            if "Downloaded from" in line or "Downloading from" in line:
                downloaded = True
            if on_progress and ("Copying" in line or "Downloaded from" in line):
                on_progress(line.strip().rsplit("/", 1)[-1].rsplit(" ", 1)[-1])
    if proc.returncode != 0:
        raise FusionError(
            "Maven could not install Neo4j from Maven Central:\n" + "\n".join(tail[-20:])
        )
    return downloaded
