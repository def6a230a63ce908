"""Start, stop and inspect the managed Neo4j as a background JVM.

Started directly (not through Neo4j's ``neo4j`` launcher script), so this module does what the
launcher would: writes ``neo4j.conf`` and the Log4j files, passes the JVM options of 5.26's
``server.jvm.additional`` defaults and the heap flags, and keeps a pid file.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from neo4j import GraphDatabase
from neo4j.exceptions import AuthError, Neo4jError, ServiceUnavailable, SessionExpired

from fusion.config import Settings
from fusion.errors import ConfigError, DatabaseError, DatabaseStartError
from fusion.managed.install import NEO4J_VERSION, Installation, ensure_installed, read_installation
from loaders.private import FILE_MODE, PRIVATE_UMASK, make_private, private_dir, private_file
from loaders.warmup import warm_up

ADMIN_USER = "neo4j"
# What Fusion keeps in FUSION_HOME (fusion.auth, loaders, fusion demo, this module).
HOME_ENTRIES = frozenset({"neo4j", "events", "quarantine", "demo", "audit", "secret"})
ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
ADMIN_TOOL = "org.neo4j.cli.AdminTool"

# Neo4j 5.26's default `server.jvm.additional`, which its launcher script would add.
JVM_ADDITIONAL = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+AlwaysPreTouch",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Djdk.tls.rejectClientInitiatedRenegotiation=true",
    "-XX:FlightRecorderOptions=stackdepth=256",
    "-XX:+UnlockDiagnosticVMOptions",
    "-XX:+DebugNonSafepoints",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "-Dlog4j2.disable.jmx=true",
    "-Dfile.encoding=UTF-8",
)


@dataclass(frozen=True)
class ServerStatus:
    """What `fusion db status` reports."""

    state: str  # "running" | "stopped" | "external"
    pid: int | None
    bolt_port: int
    http_port: int
    version: str | None
    data_path: Path
    uri: str


class ManagedNeo4j:
    """The Neo4j server living under ``FUSION_HOME/neo4j``."""

    def __init__(self, settings: Settings):
        if settings.external:
            raise ConfigError(
                f"FUSION_NEO4J_URI is set ({settings.neo4j_uri}): Fusion uses that server, "
                "and the managed local Neo4j is not used."
            )
        self.settings = settings
        self.root = settings.home / "neo4j"
        self.conf_dir = self.root / "conf"
        self.data_dir = self.root / "data"
        self.logs_dir = self.root / "logs"
        self.run_dir = self.root / "run"
        self.pid_file = self.run_dir / "fusion-neo4j.pid"
        self.password_file = self.root / "password"
        self.warm_up_seconds: float | None = None  # what this object's start spent warming up

    # -- facts ------------------------------------------------------------------------------
    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.settings.db_bolt_port}"

    def password(self) -> str:
        """The generated password (created, mode 0600, on first use)."""
        if not self.password_file.exists():
            private_dir(self.root, self.settings.home)
            fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                # Never starts with "-", which Neo4j's admin tool would read as an option.
                fh.write("fx" + secrets.token_urlsafe(24))
        return self.password_file.read_text().strip()

    def running_pid(self) -> int | None:
        """The pid of our live server, or None; a stale pid file is removed."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if _is_our_server(pid, self.root):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def status(self) -> ServerStatus:
        pid = self.running_pid()
        inst = read_installation(self.root)
        return ServerStatus(
            state="running" if pid else "stopped",
            pid=pid,
            bolt_port=self.settings.db_bolt_port,
            http_port=self.settings.db_http_port,
            version=inst.version if inst else None,
            data_path=self.data_dir,
            uri=self.uri,
        )

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, on_progress: Callable[[str], None] | None = None
              ) -> tuple[ServerStatus, bool]:
        """Start the server unless it runs; wait for Bolt. Returns (status, started_now).

        ``on_progress`` receives one line per phase (and per jar Maven resolves) for a status
        display. Everything under FUSION_HOME is made private to the user first.
        """
        report = on_progress or _quiet
        if self.running_pid() is not None:
            self._wait_for_bolt(None)
            return self.status(), False
        report("Checking the Neo4j installation…")
        inst = ensure_installed(self.root, on_progress=lambda jar: report(
            f"Resolving Neo4j's jars with Maven (first start only): {jar}"))
        for port in (self.settings.db_bolt_port, self.settings.db_http_port):
            if _port_in_use(port):
                raise DatabaseStartError(
                    f"Port {port} on 127.0.0.1 is taken by another program; "
                    "choose others with FUSION_DB_BOLT_PORT / FUSION_DB_HTTP_PORT."
                )
        self._write_config()
        self._set_initial_password(inst, report)
        _private_home(self.settings.home)
        report("Starting the Neo4j JVM…")
        proc = self._spawn(inst)
        report(f"Waiting for Neo4j to answer on {self.uri} (Bolt)…")
        self._wait_for_bolt(proc)
        self._warm_up(report)
        return self.status(), True

    def _warm_up(self, report: Callable[[str], None]) -> None:
        """Plan the loader's statements and let the JIT compile them, commit path included
        (``loaders.warmup``), so the first load after a start runs almost as fast as a warm
        one; its scratch elements are deleted, nothing stays."""
        with GraphDatabase.driver(self.uri, auth=(ADMIN_USER, self.password())) as driver:
            self.warm_up_seconds = warm_up(driver, self.settings.neo4j_database, report=report)

    def stop(self, timeout: float = 120.0) -> bool:
        """Stop gracefully (SIGTERM, then wait); returns whether a server was running."""
        pid = self.running_pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True

    # -- internals --------------------------------------------------------------------------
    def _spawn(self, inst: Installation) -> subprocess.Popen:
        """The server JVM in the background; what it writes is private to the user."""
        private_dir(self.run_dir, self.settings.home)
        fd = os.open(self.logs_dir / "console.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                     FILE_MODE)
        with os.fdopen(fd, "ab") as console:  # the child keeps its own copy
            proc = subprocess.Popen(
                ["java", "-cp", self._classpath(inst), *self._jvm_options(), ENTRY_POINT,
                 f"--home-dir={self.root}", f"--config-dir={self.conf_dir}"],
                stdout=console, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self._env(), start_new_session=True, umask=PRIVATE_UMASK,
            )
        self.pid_file.write_text(str(proc.pid))
        private_file(self.pid_file)
        return proc

    def _env(self) -> dict[str, str]:
        return {**os.environ, "NEO4J_HOME": str(self.root), "NEO4J_CONF": str(self.conf_dir)}

    def _classpath(self, inst: Installation) -> str:
        # Neo4j's own order: plugins, conf, lib.
        return os.pathsep.join([f"{self.root / 'plugins'}/*", f"{self.conf_dir}/*",
                                f"{inst.lib}/*"])

    def _jvm_options(self) -> list[str]:
        heap = self.settings.db_heap
        return [f"-Xms{heap}", f"-Xmx{heap}", *JVM_ADDITIONAL]

    def _write_config(self) -> None:
        for sub in ("conf", "data", "logs", "plugins", "run", "import"):
            private_dir(self.root / sub, self.settings.home)
        s = self.settings
        lines = [
            "# Written by `fusion db start` on every start; edit Fusion's settings instead.",
            f"server.directories.data={self.data_dir}",
            f"server.directories.logs={self.logs_dir}",
            f"server.directories.plugins={self.root / 'plugins'}",
            f"server.directories.run={self.run_dir}",
            f"server.directories.import={self.root / 'import'}",
            "server.default_listen_address=127.0.0.1",
            "server.default_advertised_address=127.0.0.1",
            f"server.bolt.listen_address=127.0.0.1:{s.db_bolt_port}",
            f"server.bolt.advertised_address=127.0.0.1:{s.db_bolt_port}",
            f"server.http.listen_address=127.0.0.1:{s.db_http_port}",
            f"server.http.advertised_address=127.0.0.1:{s.db_http_port}",
            "server.https.enabled=false",
            "dbms.security.auth_enabled=true",
            "dbms.usage_report.enabled=false",
            f"server.memory.heap.initial_size={s.db_heap}",
            f"server.memory.heap.max_size={s.db_heap}",
            f"server.memory.pagecache.size={s.db_pagecache}",
            "db.tx_log.rotation.retention_policy=2 files",
            "db.transaction.timeout=10m",
        ]
        lines += [f"server.jvm.additional={opt}" for opt in JVM_ADDITIONAL]
        (self.conf_dir / "neo4j.conf").write_text("\n".join(lines) + "\n")
        for name in ("server-logs.xml", "user-logs.xml"):
            src = resources.files("fusion.resources").joinpath("neo4j", name)
            (self.conf_dir / name).write_text(src.read_text())

    def _set_initial_password(self, inst: Installation, report: Callable[[str], None]) -> None:
        """Before the very first start, give the `neo4j` user the generated password."""
        if (self.data_dir / "databases" / "system").exists():
            return
        report("Setting the initial password (first start only)…")
        result = subprocess.run(
            ["java", "-cp", self._classpath(inst), ADMIN_TOOL, "dbms",
             "set-initial-password", self.password()],
            capture_output=True, text=True, env=self._env(), check=False,
            umask=PRIVATE_UMASK,
        )
        if result.returncode != 0:
            raise DatabaseStartError(
                "Neo4j's admin tool could not set the initial password:\n"
                + (result.stderr or result.stdout)[-2000:]
            )

    def _wait_for_bolt(self, proc: subprocess.Popen | None) -> None:
        deadline = time.monotonic() + self.settings.db_start_timeout
        with GraphDatabase.driver(self.uri, auth=(ADMIN_USER, self.password())) as driver:
            while True:
                if proc is not None and proc.poll() is not None:
                    self.pid_file.unlink(missing_ok=True)
                    raise DatabaseStartError(
                        f"Neo4j exited during start-up (status {proc.returncode}).\n"
                        + self.log_tail()
                    )
                try:
                    driver.verify_connectivity()
                    return
                except AuthError as err:
                    raise DatabaseError(
                        f"Neo4j rejected the password in {self.password_file}: {err.message}"
                    ) from err
                except (ServiceUnavailable, SessionExpired, Neo4jError, OSError):
                    pass
                if time.monotonic() > deadline:
                    raise DatabaseStartError(
                        f"Neo4j did not answer on {self.uri} within "
                        f"{self.settings.db_start_timeout:.0f} s.\n" + self.log_tail()
                    )
                time.sleep(0.5)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's logs, for error messages."""
        parts = []
        for name in ("console.log", "neo4j.log", "debug.log"):
            path = self.logs_dir / name
            if path.is_file() and path.stat().st_size:
                text = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path} (last {len(text)} lines) ---\n" + "\n".join(text))
        return "\n".join(parts) or f"(no log output in {self.logs_dir})"


def _private_home(home: Path) -> None:
    """Take group and other bits off FUSION_HOME and what Fusion keeps in it (not off anything
    else that shares the folder, should FUSION_HOME be a folder with other uses)."""
    os.chmod(home, stat.S_IMODE(home.stat().st_mode) & ~0o077)
    for entry in home.iterdir():
        if entry.name in HOME_ENTRIES:
            make_private(entry)


def _quiet(line: str) -> None:
    """A progress report nobody displays."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _is_our_server(pid: int, root: Path) -> bool:
    """True when ``pid`` is a live Neo4j started for this FUSION_HOME (not a recycled pid)."""
    if not _alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    args = [a.decode(errors="replace") for a in cmdline]
    return ENTRY_POINT in args and f"--home-dir={root}" in args


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


__all__ = ["ManagedNeo4j", "ServerStatus", "NEO4J_VERSION"]
