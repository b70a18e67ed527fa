"""A real single-node Apache Kafka (KRaft, broker and controller in one JVM) on loopback, run from its Maven jars.

No Docker and no release tarball: :func:`fetch_jars` resolves ``org.apache.kafka:kafka_2.13`` and a log4j2
binding with ``mvn`` into a cache folder outside the repository, and :class:`LocalKafka` runs
``java ... kafka.Kafka server.properties`` as a child process with its own free ports and data dir, so
tests, the demo and a developer's broker can run side by side.

Two ways to use it:

* in-process, as a context manager (the test suite's session fixture does this)::

      with LocalKafka() as broker:
          create_topics(broker.bootstrap, {"interactions": 4})

* as a background broker shared by separate commands (``streamrec kafka start|status|stop``):
  :func:`start_background` records ``{pid, bootstrap, data_dir, log, version, started_at}`` in a state
  file, and :func:`running_bootstrap` lets the settings find it.

Plus small admin helpers the stream code and tests share: :func:`create_topics`, :func:`list_topics`,
:func:`end_offsets` and :func:`consumer_lag`.
"""
from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import uuid
import weakref
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

#: Kafka release run by default. 4.x: faust-streaming 0.15 (aiokafka 0.14) and kafka-python 3.0 speak its
#: protocol. 4.1.2 runs on Java 17 (4.4.0 does too: server classes are Java 17 bytecode, and it passed the
#: same checks), and it is a release kafka-python 3.0.12 recognises by its API versions (it reports 4.4.0 as
#: "4.3"). If you change it, also change log4j.version in kafka/pom.xml to the log4j2 that release uses.
KAFKA_VERSION = "4.1.2"

_RESOURCES = Path(__file__).resolve().parent / "kafka"
POM = _RESOURCES / "pom.xml"
LOG4J2_CONFIG = _RESOURCES / "log4j2.xml"
SERVER_TEMPLATE = _RESOURCES / "server.properties"

#: JVM flags, as Kafka's kafka-server-start.sh / kafka-run-class.sh set them, with a small heap.
JVM_FLAGS = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
)

_MARKER = ".complete"
_LOG_NAME = "server.log"
_STDOUT_NAME = "stdout.log"


class KafkaSetupError(RuntimeError):
    """``mvn`` or ``java`` is missing, or the broker's jars could not be resolved."""


class KafkaStartError(RuntimeError):
    """The broker did not come up; the message ends with the tail of its log."""


# ----------------------------------------------------------------------------------------- jars


def kafka_home(version: str = KAFKA_VERSION) -> Path:
    """Cache folder for one Kafka version: ``$STREAMREC_KAFKA_HOME`` or ``~/.cache/streamrec/kafka-<version>``."""
    env = os.environ.get("STREAMREC_KAFKA_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "streamrec" / f"kafka-{version}"


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        hint = {"java": "install a JDK 17+ (e.g. apt-get install openjdk-17-jre-headless)",
                "mvn": "install Apache Maven 3.8+ (e.g. apt-get install maven)"}[tool]
        raise KafkaSetupError(f"`{tool}` not found on PATH: {hint}; it is needed to run the local Kafka broker")
    return path


def _jar_stamp(version: str) -> str:
    """What a finished jar folder was resolved from: re-resolve when the version or the pom changes."""
    return f"kafka {version} pom-sha256 {hashlib.sha256(POM.read_bytes()).hexdigest()[:16]}\n"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock, so parallel fetches (tests + demo) resolve once and never mix jars."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fetch_jars(cache_dir: str | Path | None = None, quiet: bool = False, version: str = KAFKA_VERSION,
               timeout_s: float = 900) -> Path:
    """Resolve the broker's jars with Maven into ``cache_dir`` (default ``kafka_home(version)/libs``) and return it.

    Idempotent: a marker file records what the folder was resolved from, so later calls return at once
    without running ``mvn``. Jars land in a temporary sibling first and are renamed into place, so an
    interrupted run never leaves a half-filled folder behind.
    """
    libs = Path(cache_dir).expanduser() if cache_dir else kafka_home(version) / "libs"
    stamp = _jar_stamp(version)
    marker = libs / _MARKER
    if marker.is_file() and marker.read_text() == stamp:
        return libs
    mvn = _require("mvn")
    _require("java")
    with _file_lock(libs.parent / f".{libs.name}.lock"):
        if marker.is_file() and marker.read_text() == stamp:  # another process finished meanwhile
            return libs
        staging = libs.parent / f".{libs.name}.partial-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        if not quiet:
            print(f"Resolving org.apache.kafka:kafka_2.13:{version} and its log4j2 binding with Maven "
                  f"into {libs} (first run only) ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        cmd = [mvn, "-B", "-q", "-f", str(POM), "dependency:copy-dependencies",
               f"-Dkafka.version={version}", f"-DoutputDirectory={staging}"]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise KafkaSetupError(f"mvn did not finish within {timeout_s:.0f} s: {' '.join(cmd)}") from exc
        expected = staging / f"kafka_2.13-{version}.jar"
        if done.returncode != 0 or not expected.is_file():
            shutil.rmtree(staging, ignore_errors=True)
            output = _tail_text((done.stdout or "") + (done.stderr or ""), 40)
            raise KafkaSetupError(f"resolving Kafka {version} jars failed (exit {done.returncode}): "
                                  f"{' '.join(cmd)}\n{output}")
        (staging / _MARKER).write_text(stamp)
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
        if not quiet:
            jars = list(libs.glob("*.jar"))
            size_mb = sum(j.stat().st_size for j in jars) / 2**20
            print(f"Resolved {len(jars)} jars ({size_mb:.0f} MiB) in {time.monotonic() - started:.1f} s.",
                  file=sys.stderr, flush=True)
    return libs


# ----------------------------------------------------------------------------------------- processes


def _free_port(exclude: Iterable[int] = ()) -> int:
    """A loopback TCP port nobody listens on right now (the broker may still lose a race; start() retries)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in set(exclude):
            return port


def _port_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _tail_text(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


_EXCEPTION_LINE = re.compile(r"^[\w.$]+(Exception|Error)\b")


def _tail_file(path: Path, lines: int = 60) -> str:
    """Last ``lines`` lines of a log, without the tab-indented config dumps Kafka logs at every start."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 256 * 1024))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    kept = [line for line in text.splitlines() if not line.startswith("\t")]
    # The cause is usually the first ERROR, followed by many INFO lines of the shutdown it triggers.
    errors = [line for line in kept if " ERROR " in line or " FATAL " in line
              or line.startswith("Caused by:") or _EXCEPTION_LINE.match(line)][:12]
    tail = kept[-lines:]
    head = [line for line in errors if line not in tail]
    return "\n".join([*head, "..."] if head else []) + ("\n" if head else "") + "\n".join(tail)


def _pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, exited but not yet reaped by its parent, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill(0)
    return stat[stat.rindex(")") + 2:][:1] not in ("Z", "X")


def _is_broker(pid: int) -> bool:
    """``pid`` is alive and (where /proc says so) is a Kafka broker JVM, not a recycled pid."""
    if not _pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return b"kafka.Kafka" in cmdline


def stop_pid(pid: int, timeout: float = 20) -> bool:
    """SIGTERM ``pid`` (Kafka then shuts down cleanly), SIGKILL after ``timeout`` s; True if it exited."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _pid_alive(pid):
                return True
            time.sleep(0.1)
    return not _pid_alive(pid)


_PR_SET_PDEATHSIG = 1
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _prctl = None


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _cluster_id() -> str:
    """A KRaft cluster id: 22 characters of url-safe base64 of a random UUID.

    Like Kafka's ``Uuid.randomUuid()``, never one starting with "-", which the tool would read as an option.

    >>> ids = [_cluster_id() for _ in range(200)]
    >>> all(len(i) == 22 and not i.startswith("-") for i in ids), len(set(ids))
    (True, 200)
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()[:22]
        if not cluster_id.startswith("-"):
            return cluster_id


class LocalKafka:
    """One single-node KRaft broker on 127.0.0.1, as a child JVM with its own ports and data dir.

    Parameters
    ----------
    port
        Broker (PLAINTEXT) port; None picks a free one. The controller port is always picked free.
    data_dir
        Where the config, the logs (``logs/server.log``) and the topic data go. None: a fresh temporary
        folder, removed by :meth:`stop` unless ``keep``. A given folder is never removed and may be reused
        (storage is formatted only once).
    keep
        Keep the temporary data dir on stop (to read its logs).
    libs
        Folder with the broker's jars; None runs :func:`fetch_jars` (cached after the first time).
    version
        Kafka version whose jars to fetch (when ``libs`` is None).
    num_partitions
        Partitions of auto-created topics.
    auto_create_topics
        ``auto.create.topics.enable``: on, as in Kafka's default config (see ``kafka/server.properties``).
    heap_min, heap_max
        JVM ``-Xms`` / ``-Xmx``: small, since several brokers may share a 2-core machine.
    detached
        Survive this Python process (for ``streamrec kafka start``). Otherwise the broker gets SIGTERM
        when the thread that started it dies (Linux), and is stopped at interpreter exit.

    The JVM runs in its own session (process group), so Ctrl-C in a terminal reaches only the Python
    parent, whose code then stops the broker cleanly with :meth:`stop` instead of the JVM dying mid-write.
    """

    def __init__(self, port: int | None = None, data_dir: str | Path | None = None, *, keep: bool = False,
                 libs: str | Path | None = None, version: str = KAFKA_VERSION, num_partitions: int = 4,
                 auto_create_topics: bool = True, heap_min: str = "256m", heap_max: str = "512m",
                 detached: bool = False) -> None:
        self.port = port
        self._requested_port = port
        self.data_dir = Path(data_dir).expanduser().resolve() if data_dir is not None else None
        self.keep = keep
        self.libs = Path(libs) if libs is not None else None
        self.version = version
        self.num_partitions = num_partitions
        self.auto_create_topics = auto_create_topics
        self.heap_min = heap_min
        self.heap_max = heap_max
        self.detached = detached
        self.controller_port: int | None = None
        self.started_at: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._owns_data_dir = False
        self._log_offset = 0

    # -- public surface -------------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """``"127.0.0.1:PORT"`` for clients; only meaningful once started."""
        if self.port is None:
            raise RuntimeError("LocalKafka has no port yet: call start() first")
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The JVM's pid (of the last start); None before the first start."""
        return self._proc.pid if self._proc is not None else None

    @property
    def exit_code(self) -> int | None:
        """The JVM's exit status once it has exited (143 or -15: stopped by SIGTERM), else None."""
        return self._proc.poll() if self._proc is not None else None

    @property
    def owns_data_dir(self) -> bool:
        """True when ``data_dir`` is a temporary folder this object made (and :meth:`stop` removes)."""
        return self._owns_data_dir

    @property
    def log_path(self) -> Path | None:
        """The broker's own log (log4j2), tailed in error messages."""
        return self.data_dir / "logs" / _LOG_NAME if self.data_dir is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        """Last lines of the broker log, then of the JVM's own stdout/stderr (crashes, bad flags)."""
        if self.data_dir is None:
            return ""
        parts = [_tail_file(self.data_dir / "logs" / _LOG_NAME, lines),
                 _tail_file(self.data_dir / "logs" / _STDOUT_NAME, lines)]
        return "\n".join(p for p in parts if p)

    def _log_size(self) -> int:
        try:
            return self.log_path.stat().st_size if self.log_path is not None else 0
        except OSError:
            return 0

    def _log_mentions_since_launch(self, text: str) -> bool:
        try:
            with open(self.log_path or "", "rb") as handle:
                handle.seek(self._log_offset)
                return text.encode() in handle.read()
        except OSError:
            return False

    def start(self, wait_s: float = 90) -> LocalKafka:
        """Format storage, launch the JVM and return once a metadata request succeeds (or raise)."""
        if self.is_running():
            return self
        java = _require("java")
        fixed_port = self._requested_port
        if fixed_port is not None and _port_open(fixed_port):
            raise KafkaStartError(f"port {fixed_port} on 127.0.0.1 is already in use: pick another or omit it")
        libs = self.libs if self.libs is not None else fetch_jars(version=self.version, quiet=True)
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="streamrec-kafka-"))
            self._owns_data_dir = True
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + wait_s
        for attempt in range(3):  # a free port can be taken between picking it and the JVM binding it
            self.port = fixed_port or _free_port()
            self.controller_port = _free_port(exclude=[self.port])
            config = self._write_config()
            if not (self.data_dir / "data" / "meta.properties").exists():  # a reused dir keeps its cluster id
                self._format_storage(java, libs, config, deadline)
            self._log_offset = self._log_size()
            self._launch(java, libs, config)
            try:
                self._wait_ready(deadline)
                break
            except KafkaStartError:
                lost_race = self._log_mentions_since_launch("Address already in use")
                self._terminate(timeout=10)
                if not lost_race or fixed_port or attempt == 2:
                    raise
            except BaseException:  # Ctrl-C while waiting: leave no JVM behind
                self._terminate(timeout=10)
                raise
        self.started_at = time.time()
        if not self.detached:
            _live_brokers.add(self)
        return self

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM (clean shutdown), SIGKILL after ``timeout`` s; remove a temporary data dir unless ``keep``."""
        self._terminate(timeout)
        _live_brokers.discard(self)
        if self._owns_data_dir and not self.keep and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None
            self._owns_data_dir = False

    def __enter__(self) -> LocalKafka:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.bootstrap if self.port else "not started"
        return f"LocalKafka({where}, version={self.version}, running={self.is_running()}, data_dir={self.data_dir})"

    # -- steps ----------------------------------------------------------------------------------

    def _write_config(self) -> Path:
        assert self.data_dir is not None
        text = string.Template(SERVER_TEMPLATE.read_text()).substitute(
            port=self.port, controller_port=self.controller_port, log_dirs=self.data_dir / "data",
            num_partitions=self.num_partitions, auto_create_topics=str(self.auto_create_topics).lower())
        path = self.data_dir / "server.properties"
        path.write_text(text)
        return path

    def _jvm(self, java: str, libs: Path, heap_max: str) -> list[str]:
        assert self.data_dir is not None
        return [java, f"-Xms{self.heap_min}", f"-Xmx{heap_max}", *JVM_FLAGS,
                f"-Dkafka.logs.dir={self.data_dir / 'logs'}",
                f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
                "-cp", f"{libs}/*"]

    def _format_storage(self, java: str, libs: Path, config: Path, deadline: float) -> None:
        """``kafka-storage format`` with a fresh cluster id (a new data dir must be formatted before first start)."""
        cmd = [*self._jvm(java, libs, heap_max="256m"), "kafka.tools.StorageTool", "format",
               "-t", _cluster_id(), "-c", str(config)]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True,
                                  timeout=max(5.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired as exc:
            raise KafkaStartError(f"formatting Kafka storage timed out\n{self.log_tail()}") from exc
        if done.returncode != 0:
            raise KafkaStartError(f"formatting Kafka storage failed (exit {done.returncode}): {' '.join(cmd)}\n"
                                  f"{_tail_text(done.stdout + done.stderr, 40)}\n{self.log_tail()}")

    def _launch(self, java: str, libs: Path, config: Path) -> None:
        assert self.data_dir is not None
        cmd = [*self._jvm(java, libs, self.heap_max), "kafka.Kafka", str(config)]
        with open(self.data_dir / "logs" / _STDOUT_NAME, "ab") as out:
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=self.data_dir,
                start_new_session=True, preexec_fn=None if self.detached else _die_with_parent)

    def _wait_ready(self, deadline: float) -> None:
        """Until ``deadline``: the JVM is alive, the PLAINTEXT port accepts, and a metadata request lists a broker."""
        from kafka import KafkaAdminClient  # local: only the readiness check and admin helpers need it

        last_error: Exception | None = None
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise KafkaStartError(f"Kafka broker exited with code {self._proc.returncode} during startup "
                                      f"(log: {self.log_path})\n{self.log_tail()}")
            if not _port_open(self.port or 0):
                time.sleep(0.2)
                continue
            try:
                with KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000,
                                      bootstrap_timeout_ms=5000, client_id="streamrec-ready") as admin:
                    if admin.describe_cluster()["brokers"]:
                        return
            except Exception as exc:  # not ready yet: any client error means "try again"
                last_error = exc
            time.sleep(0.3)
        raise KafkaStartError(f"Kafka broker not ready on {self.bootstrap} in time (last error: {last_error!r}; "
                              f"log: {self.log_path})\n{self.log_tail()}")

    def _terminate(self, timeout: float) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


_live_brokers: weakref.WeakSet[LocalKafka] = weakref.WeakSet()


@atexit.register
def _stop_live_brokers() -> None:
    """Stop in-process (non-detached) brokers a caller forgot, instead of leaving JVMs behind."""
    for broker in list(_live_brokers):
        broker.stop()


# ----------------------------------------------------------------------------------------- state file


def state_dir() -> Path:
    """Where the background broker is recorded: ``$STREAMREC_STATE_DIR`` or ``~/.cache/streamrec/kafka``."""
    env = os.environ.get("STREAMREC_STATE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "streamrec" / "kafka"


def state_path() -> Path:
    return state_dir() / "state.json"


def read_state() -> dict[str, Any] | None:
    """The recorded background broker (whether or not it still runs), or None if none is recorded."""
    try:
        state = json.loads(state_path().read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and "pid" in state and "bootstrap" in state else None


def running_bootstrap() -> str | None:
    """Bootstrap address of the recorded background broker if its process is alive, else None."""
    state = read_state()
    if state is None or not _is_broker(int(state["pid"])):
        return None
    return str(state["bootstrap"])


def write_state(state: Mapping[str, Any]) -> None:
    """Record a started broker (see :func:`broker_state`) for other processes."""
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".tmp-{os.getpid()}")
    partial.write_text(json.dumps(state, indent=2) + "\n")
    partial.replace(path)  # atomic: readers never see half a file


def clear_state() -> None:
    """Forget the recorded broker (does not stop it)."""
    path = state_path()
    path.unlink(missing_ok=True)


def broker_state(broker: LocalKafka, remove_data_dir: bool) -> dict[str, Any]:
    """What the state file records about a started broker."""
    return {"pid": broker.pid, "bootstrap": broker.bootstrap, "data_dir": str(broker.data_dir),
            "log": str(broker.log_path), "version": broker.version, "started_at": broker.started_at,
            "remove_data_dir": remove_data_dir}


def start_background(port: int | None = None, data_dir: str | Path | None = None, wait_s: float = 90,
                     quiet: bool = False) -> tuple[dict[str, Any], bool]:
    """Start a detached broker that outlives this process and record it; returns ``(state, started)``.

    If a live broker is already recorded, nothing is started and ``started`` is False.
    """
    state = read_state()
    if state is not None and running_bootstrap() is not None:
        return state, False
    stop_background()  # a stale record (its broker died): drop it and its temporary data dir
    fetch_jars(quiet=quiet)
    broker = LocalKafka(port=port, data_dir=data_dir, keep=True, detached=True)
    broker.start(wait_s=wait_s)
    state = broker_state(broker, remove_data_dir=broker.owns_data_dir)
    write_state(state)
    return state, True


def stop_background(timeout: float = 20) -> dict[str, Any] | None:
    """Stop the recorded broker (if alive), remove its temporary data dir and the record; returns the record."""
    state = read_state()
    if state is None:
        return None
    pid = int(state["pid"])
    if _is_broker(pid) and not stop_pid(pid, timeout):
        raise RuntimeError(f"Kafka broker pid {pid} did not exit")
    if state.get("remove_data_dir"):
        shutil.rmtree(state["data_dir"], ignore_errors=True)
    clear_state()
    return state


# ----------------------------------------------------------------------------------------- admin helpers


def _admin(bootstrap: str, timeout_s: float = 30):  # -> kafka.KafkaAdminClient (a context manager)
    from kafka import KafkaAdminClient

    ms = int(timeout_s * 1000)
    return KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=ms, bootstrap_timeout_ms=ms,
                            client_id="streamrec-admin")


def create_topics(bootstrap: str, topics: Mapping[str, int], compacted: Iterable[str] = (),
                  replication: int = 1, timeout_s: float = 30) -> set[str]:
    """Create ``{name: partitions}`` (``cleanup.policy=compact`` for names in ``compacted``); return those new.

    Idempotent: topics that already exist are left as they are (not re-partitioned). Returns once every
    partition of every requested topic has a leader, so producers can write at once.
    """
    import kafka.errors as errors

    compacted = set(compacted)
    spec = {name: {"num_partitions": int(parts), "replication_factor": replication,
                   "configs": {"cleanup.policy": "compact"} if name in compacted else {}}
            for name, parts in topics.items()}
    if not spec:
        return set()
    created: set[str] = set()
    with _admin(bootstrap, timeout_s) as admin:
        result = admin.create_topics(spec, timeout_ms=int(timeout_s * 1000), raise_errors=False)
        for topic in result["topics"]:
            error = errors.for_code(topic["error_code"])
            if error is errors.NoError:
                created.add(topic["name"])
            elif error is not errors.TopicAlreadyExistsError:
                raise error(f"creating topic {topic['name']!r}: {topic.get('error_message')}")
        admin.wait_for_topics(list(spec), timeout_ms=int(timeout_s * 1000))
    return created


def list_topics(bootstrap: str, internal: bool = False, timeout_s: float = 10) -> list[str]:
    """Sorted topic names (without ``__consumer_offsets`` and other ``__`` topics unless ``internal``)."""
    with _admin(bootstrap, timeout_s) as admin:
        names = admin.list_topics()
    return sorted(n for n in names if internal or not n.startswith("__"))


def end_offsets(bootstrap: str, topic: str, timeout_s: float = 10) -> dict[int, int]:
    """``{partition: log-end offset}`` (the offset the next message will get) of every partition of ``topic``."""
    from kafka.admin import OffsetSpec

    from stream.lag import partition_offsets, topic_partitions

    with _admin(bootstrap, timeout_s) as admin:
        found = partition_offsets(admin, [(topic, p) for p in topic_partitions(admin, topic)], OffsetSpec.LATEST)
    return {p: off for (_, p), off in sorted(found.items())}


def consumer_lag(bootstrap: str, group: str, topic: str, timeout_s: float = 10) -> dict[int, int]:
    """``{partition: lag}`` of ``group`` on every partition of ``topic``: one :class:`stream.lag.LagProbe` call."""
    from stream.lag import LagProbe

    with LagProbe(bootstrap, group, timeout_s) as probe:
        return probe.topic_lag(topic)
