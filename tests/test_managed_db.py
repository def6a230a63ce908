"""The managed Neo4j against the real server: lifecycle through the `fusion db` commands."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from neo4j import GraphDatabase

from fusion.errors import EnvironmentMissing
from fusion.managed.install import NEO4J_VERSION, check_environment, ensure_installed

BOLT = int(os.environ.get("FUSION_TEST_LIFECYCLE_BOLT_PORT", "27687"))
HTTP = int(os.environ.get("FUSION_TEST_LIFECYCLE_HTTP_PORT", "27474"))
FUSION = [sys.executable, "-m", "fusion.cli"]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUSION_")}
    env.update(FUSION_HOME=str(home), FUSION_DB_BOLT_PORT=str(BOLT),
               FUSION_DB_HTTP_PORT=str(HTTP), FUSION_DB_HEAP="512m", FUSION_DB_PAGECACHE="256m")
    return env


def _fusion(home: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([*FUSION, *args], env=_env(home), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _status(home: Path) -> dict:
    return json.loads(_fusion(home, "db", "status", "--json").stdout)


@pytest.mark.neo4j
@pytest.mark.slow
def test_lifecycle_start_write_stop_start_read(tmp_path: Path) -> None:
    home = tmp_path / "home"
    try:
        _fusion(home, "db", "start")
        first = _status(home)
        assert first["state"] == "running" and first["version"] == NEO4J_VERSION
        assert (first["bolt_port"], first["http_port"]) == (BOLT, HTTP)
        assert first["data_path"] == str(home / "neo4j" / "data")

        password_file = home / "neo4j" / "password"
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
        auth = ("neo4j", password_file.read_text().strip())
        with GraphDatabase.driver(f"bolt://127.0.0.1:{BOLT}", auth=auth) as drv:
            drv.execute_query("CREATE (:Probe {token: $t})", t="persisted")

        again = _fusion(home, "db", "start")
        assert "already running" in again.stdout
        assert _status(home)["pid"] == first["pid"]

        _fusion(home, "db", "stop")
        assert _status(home)["state"] == "stopped"

        _fusion(home, "db", "start")
        with GraphDatabase.driver(f"bolt://127.0.0.1:{BOLT}", auth=auth) as drv:
            records, _, _ = drv.execute_query("MATCH (p:Probe) RETURN p.token AS t")
        assert [r["t"] for r in records] == ["persisted"]
    finally:
        subprocess.run([*FUSION, "db", "stop"], env=_env(home), capture_output=True, timeout=300)
    assert _status(home)["state"] == "stopped"


@pytest.mark.neo4j
def test_stale_pid_file_is_survived(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run = home / "neo4j" / "run"
    run.mkdir(parents=True)
    # A live pid that is not a Neo4j server (this test process) must not count as running.
    (run / "fusion-neo4j.pid").write_text(str(os.getpid()))
    assert _status(home)["state"] == "stopped"
    assert not (run / "fusion-neo4j.pid").exists()


def test_second_install_does_not_run_maven(tmp_path: Path, monkeypatch) -> None:
    """An installed version is re-used as is: no Maven (nor Java) is even looked for."""
    lib = tmp_path / f"lib-{NEO4J_VERSION}"
    lib.mkdir()
    (lib / f"neo4j-server-{NEO4J_VERSION}.jar").write_bytes(b"jar")
    (lib / "installed.json").write_text(
        json.dumps({"version": NEO4J_VERSION, "jar_count": 1, "size_bytes": 3}))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    inst = ensure_installed(tmp_path)
    assert inst.downloaded is False and inst.lib == lib


def _path_with(tmp_path: Path, *programs: str) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in programs:
        real = subprocess.run(["which", program], capture_output=True, text=True).stdout.strip()
        (bin_dir / program).symlink_to(real)
    return str(bin_dir)


def test_missing_java_names_what_to_install(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", _path_with(tmp_path))
    with pytest.raises(EnvironmentMissing, match="Java is not installed.*openjdk-17"):
        check_environment()


def test_missing_maven_names_what_to_install(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", _path_with(tmp_path, "java"))
    with pytest.raises(EnvironmentMissing, match="Maven is not installed.*apt-get install maven"):
        check_environment()


def test_missing_java_is_a_clear_cli_error(tmp_path: Path) -> None:
    env = _env(tmp_path / "home")
    env["PATH"] = _path_with(tmp_path)
    result = subprocess.run([*FUSION, "db", "start"], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert "Java is not installed" in result.stderr
    assert "Traceback" not in result.stderr
