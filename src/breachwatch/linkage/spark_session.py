"""The Spark session of the linkage: checked before it starts, locked down, stopped afterwards.

Each thing that stops Spark from starting is turned into one clear error before the JVM is
launched: pyspark missing, no Java 17+, a master URL of an unknown form, a standalone master
that does not answer. A master that answers but gives no executor is caught by a watchdog.

What the session writes is encrypted or kept in memory: ``spark.io.encryption.enabled`` covers
shuffle files, spills and cached blocks on disk (and makes pyspark hand data to the JVM over a
socket instead of a plain temp file); ``spark.local.dir`` is a directory of its own under the
workspace's temp directory, removed afterwards. Logs stay at ERROR, without query text: no
personal data in logs.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from breachwatch.errors import UsageError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

INSTALL_HINT = "pip install 'breachwatch[spark]'"
JAVA_MIN_VERSION = 17  # Spark 4
# How long a standalone master may take to accept a TCP connection.
MASTER_CONNECT_SECONDS = 5.0
# How long a cluster may take to give the application its first executor: past it, the
# master answered but has no worker free (or no worker at all), and every job would wait.
EXECUTOR_WAIT_SECONDS = 60.0
# How long ``java -version`` may take (a loaded machine, a JVM on a network drive).
JAVA_PROBE_SECONDS = 30.0
_LOCAL_MASTER = re.compile(r"local(\[(\*|\d+)(,\d+)?\])?")
_STANDALONE_MASTER = re.compile(r"spark://[^\s/]+")
# The JVM's log4j2 configuration: errors only, to stderr, as plain lines.
_LOG4J = """rootLogger.level = error
rootLogger.appenderRef.stderr.ref = stderr
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = spark %p %c{1}: %m%n
"""
# pyspark's Python loggers print a failed query with its text and the JVM's stack: silenced,
# the error itself reaches the caller.
_PYSPARK_LOGGERS = ("SQLQueryContextLogger", "DataFrameQueryContextLogger")


@dataclass(frozen=True)
class SparkOptions:
    master: str  # local[N], spark://host:port[,host:port], yarn or k8s://...
    driver_memory: str  # JVM heap of the driver, e.g. "2g"
    shuffle_partitions: int  # partitions of each shuffle (raise on a cluster)

    @classmethod
    def from_settings(cls, settings: dict[str, Any], master: str | None = None) -> SparkOptions:
        return cls(
            master=master or str(settings["spark_master"]),
            driver_memory=str(settings["spark_driver_memory"]),
            shuffle_partitions=int(settings["spark_shuffle_partitions"]),
        )


@contextmanager
def spark_session(options: SparkOptions, temp_root: Path) -> Iterator[SparkSession]:
    """A session on ``options.master`` with its local files under ``temp_root``.

    A session already running in this process on the same master (the tests', a notebook's) is
    used as it is and left running; one started here is stopped on exit."""
    check_master(options.master)
    import_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        _check_same_master(active, options.master)
        yield active
        return
    check_java()
    local_dir = temp_root / f"spark-{uuid.uuid4().hex[:12]}"
    local_dir.mkdir(parents=True)
    try:
        spark = _start(options, local_dir)
        try:
            _wait_for_executors(spark, options.master)
            yield spark
        finally:
            spark.stop()
    finally:
        shutil.rmtree(local_dir, ignore_errors=True)


def import_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise UsageError(
            f"--engine spark needs pyspark, which is not installed: {INSTALL_HINT} "
            f"(and Java {JAVA_MIN_VERSION} or later)"
        ) from None


def check_master(master: str) -> None:
    """Refuses a master URL of an unknown form; probes a standalone master's ports."""
    if _LOCAL_MASTER.fullmatch(master) or master == "yarn" or master.startswith("k8s://"):
        return
    if not _STANDALONE_MASTER.fullmatch(master):
        raise UsageError(
            f"Spark master {master!r}: expected local[N], spark://HOST:PORT, yarn or "
            "k8s://URL (Spark Connect sc:// URLs are not supported: Splink needs a classic "
            "session)"
        )
    errors = []
    for address in master.removeprefix("spark://").split(","):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise UsageError(f"Spark master {master!r}: expected spark://HOST:PORT")
        try:
            with socket.create_connection((host, int(port)), timeout=MASTER_CONNECT_SECONDS):
                return
        except OSError as exc:
            errors.append(f"{address}: {exc.strerror or exc}")
    raise UsageError(
        f"Spark master {master} cannot be reached ({'; '.join(errors)}); check --spark-master "
        "or the spark_master setting, and that the master is running"
    )


def check_java() -> None:
    """Spark launches ``$JAVA_HOME/bin/java``, else ``java`` on PATH: it must be Java 17+."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        java = Path(java_home) / "bin" / "java"
        if not os.access(java, os.X_OK):
            raise UsageError(
                f"--engine spark needs Java {JAVA_MIN_VERSION}+: JAVA_HOME={java_home} holds no "
                "bin/java; point JAVA_HOME at a JDK or unset it to use java from PATH"
            )
        command = str(java)
    else:
        found = shutil.which("java")
        if found is None:
            raise UsageError(
                f"--engine spark needs Java {JAVA_MIN_VERSION}+ and no java is on PATH; install "
                "one (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
            )
        command = found
    _check_java_version(command)


def _check_java_version(java: str) -> None:
    try:
        probe = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=JAVA_PROBE_SECONDS
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"--engine spark: cannot run {java} -version: {exc}") from None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', probe.stderr)
    if probe.returncode != 0 or not found:
        raise UsageError(f"--engine spark: {java} -version failed: {probe.stderr.strip()[:200]}")
    # Java 8 says "1.8.0_…".
    major = int(found[2]) if found[1] == "1" and found[2] else int(found[1])
    if major < JAVA_MIN_VERSION:
        raise UsageError(
            f"--engine spark needs Java {JAVA_MIN_VERSION}+; {java} is Java {major}: set "
            "JAVA_HOME to a newer JDK"
        )


def _check_same_master(active: SparkSession, master: str) -> None:
    running = active.sparkContext.master
    if running != master:
        raise UsageError(
            f"a Spark session on {running} is already running in this process; "
            f"cannot start another on {master}"
        )


def _start(options: SparkOptions, local_dir: Path) -> SparkSession:
    from pyspark.errors import PySparkException
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    builder = SparkSession.builder.master(options.master).appName("breachwatch-linkage")
    for key, value in _config(options, local_dir, similarity_jar_location()).items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except PySparkException as exc:
        raise UsageError(
            f"Spark did not start on {options.master}: {exc}; check Java "
            f"{JAVA_MIN_VERSION}+ and spark_driver_memory ({options.driver_memory})"
        ) from None
    spark.sparkContext.setLogLevel("ERROR")
    _silence_pyspark_loggers()
    return spark


def _config(options: SparkOptions, local_dir: Path, jar: str) -> dict[str, str]:
    log4j = local_dir / "log4j2.properties"
    log4j.write_text(_LOG4J, encoding="utf-8")
    config = {
        # Splink's similarity functions (jaro_winkler, ...) as Scala UDFs: no Python workers.
        "spark.jars": jar,
        "spark.io.encryption.enabled": "true",
        "spark.local.dir": str(local_dir),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": options.driver_memory,
        # The driver's JVM only: on a cluster, executors log as the cluster configures them.
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{log4j}",
        "spark.sql.shuffle.partitions": str(options.shuffle_partitions),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
        # A lost executor or a silent master fails the job instead of hanging it for long.
        "spark.network.timeout": "120s",
    }
    if _LOCAL_MASTER.fullmatch(options.master):
        # Everything runs in this machine's JVM: listen on loopback only.
        config["spark.driver.host"] = "127.0.0.1"
        config["spark.driver.bindAddress"] = "127.0.0.1"
    return config


def _silence_pyspark_loggers() -> None:
    from pyspark.logger import PySparkLogger

    for name in _PYSPARK_LOGGERS:
        PySparkLogger.getLogger(name).disabled = True


def _wait_for_executors(spark: SparkSession, master: str) -> None:
    """On a cluster, waits for the first executor; stops the session and fails past
    EXECUTOR_WAIT_SECONDS (a local master runs in the driver and needs no wait)."""
    if _LOCAL_MASTER.fullmatch(master):
        return
    context = spark.sparkContext._jsc.sc()  # type: ignore[union-attr]
    deadline = time.monotonic() + EXECUTOR_WAIT_SECONDS
    # The driver counts as one; a master that gives up on the application stops the context.
    while context.getExecutorMemoryStatus().size() < 2:
        if time.monotonic() > deadline or context.isStopped():
            raise UsageError(
                f"Spark master {master} gave no executor in {EXECUTOR_WAIT_SECONDS:.0f} s: "
                "check that it has workers with free cores and memory"
            )
        time.sleep(0.5)
