"""Real servers for the tests: a throwaway PostgreSQL cluster and moto's S3-compatible server.

Both are real processes on free local ports in temporary folders, removed at the end:

- `postgres_server(root)`: a PostgreSQL cluster made with the machine's binaries (`initdb`,
  `pg_ctl`; `/usr/lib/postgresql/<version>/bin`, or `PG_BIN`), run as an unprivileged user when
  the tests run as root (PostgreSQL refuses root), with a password-checked `loader` role that
  owns a `lake` database. It can be stopped and started again mid-test. Missing binaries skip
  the tests on a developer's machine and fail them in CI (`CI=true`).
- `s3_server(root)`: moto's server with IAM users whose keys can do everything (`loader`), only
  list (`lister`) or only list and read (`reader`); once started it checks every signature and
  policy, as AWS does.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

# credentials must come from the dlt variables only, never from the machine running the tests
AMBIENT_AWS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)
SOURCE_CREDENTIALS = "SOURCES__FILESYSTEM__CREDENTIALS__"
LAKE_STORAGE_CREDENTIALS = "WAREHOUSE__STORAGE__CREDENTIALS__"
# the unprivileged user PostgreSQL runs as when the tests run as root
POSTGRES_OS_USER = "nobody"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def missing_server(message: str) -> None:
    """Skip on a developer's machine; fail loudly in CI, where these tests must run."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: these tests must run, not skip)", pytrace=False)
    pytest.skip(message)


# ---------------------------------------------------------------------------------------------
# PostgreSQL


def postgres_bin_dir() -> Path | None:
    """The folder of `initdb`, `pg_ctl` and `postgres`: `PG_BIN`, else the newest of
    `/usr/lib/postgresql/*/bin` (15 on the machine image)."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for candidate in reversed(candidates):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


@dataclass
class PostgresServer:
    """A running throwaway PostgreSQL cluster on 127.0.0.1 (password authentication over TCP)."""

    bin_dir: Path
    data_dir: Path
    port: int
    password: str = field(repr=False)  # the `loader` role's
    superuser_password: str = field(repr=False)
    run_as: tuple[str, ...] = ()  # the command prefix that runs as the cluster's owner
    host: str = "127.0.0.1"
    user: str = "loader"
    dbname: str = "lake"
    superuser: str = "postgres"

    @property
    def log(self) -> Path:
        """The server's log file."""
        return self.data_dir.parent / "postgres.log"

    def setting(self, dbname: str | None = None, user: str | None = None) -> str:
        """The `--database` setting of a lake with this catalog (no password)."""
        return (
            f"ducklake:postgres:dbname={dbname or self.dbname} host={self.host} port={self.port}"
            f" user={user or self.user}"
        )

    def connect(
        self, user: str | None = None, password: str | None = None, dbname: str | None = None
    ) -> Any:
        """A psycopg2 connection (autocommit), by default as `loader` to `lake`."""
        import psycopg2

        connection = psycopg2.connect(
            host=self.host,
            port=self.port,
            user=user or self.user,
            password=password if password is not None else self.password,
            dbname=dbname or self.dbname,
            connect_timeout=5,
        )
        connection.autocommit = True
        return connection

    def execute(self, sql: str, dbname: str | None = None) -> list[tuple]:
        """Run `sql` as the superuser; return its rows (none for a command)."""
        connection = self.connect(self.superuser, self.superuser_password, dbname or self.dbname)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()

    def _pg_ctl(self, *args: str, timeout: int = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self) -> None:
        """Start the server (again) on the same port; wait until it accepts connections."""
        options = f"-p {self.port} -h {self.host} -k {self.data_dir}"
        proc = self._pg_ctl("-o", options, "-l", str(self.log), "-w", "-t", "30", "start")
        if proc.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            pytest.fail(f"PostgreSQL did not start: {proc.stdout}{proc.stderr}\n{log}")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: sessions are ended, `immediate`: as in a crash)."""
        self._pg_ctl("-m", mode, "-w", "stop")

    def is_running(self) -> bool:
        """Whether the server's postmaster is up."""
        return self._pg_ctl("status").returncode == 0


def _unprivileged_prefix() -> tuple[tuple[str, ...], int | None, int | None]:
    """`setpriv` as `nobody` when running as root (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return (), None, None
    entry = pwd.getpwnam(POSTGRES_OS_USER)
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        missing_server("setpriv is needed to run PostgreSQL as an unprivileged user")
    prefix = (
        str(setpriv),
        f"--reuid={entry.pw_uid}",
        f"--regid={entry.pw_gid}",
        "--clear-groups",
        "--",
    )
    return prefix, entry.pw_uid, entry.pw_gid


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Make, start and at the end stop and remove a throwaway cluster with a `loader` role
    owning a `lake` database. Its folder is under the system temporary folder (one `nobody`
    can reach: pytest's own is private to root)."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        missing_server("PostgreSQL binaries (initdb, pg_ctl) not found: install postgresql-15")
    prefix, uid, gid = _unprivileged_prefix()
    root = Path(tempfile.mkdtemp(prefix="pg-test-"))
    try:
        data_dir = root / "data"
        password_file = root / "superuser-password"
        superuser_password = secrets.token_urlsafe(16)
        password_file.write_text(superuser_password + "\n")
        if uid is not None:
            os.chown(root, uid, gid)  # type: ignore[arg-type]
            os.chown(password_file, uid, gid)  # type: ignore[arg-type]
        initdb = subprocess.run(
            [
                *prefix,
                str(bin_dir / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                "postgres",
                f"--pwfile={password_file}",
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        password_file.unlink()
        if initdb.returncode != 0:
            pytest.fail(f"initdb failed: {initdb.stdout}{initdb.stderr}")
        with (data_dir / "postgresql.conf").open("a") as conf:
            # a throwaway cluster: durability is not what is tested
            conf.write("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
            conf.write("max_connections = 200\n")
        server = PostgresServer(
            bin_dir,
            data_dir,
            free_port(),
            password=secrets.token_urlsafe(16),
            superuser_password=superuser_password,
            run_as=prefix,
        )
        server.start()
        try:
            server.execute(
                f"create role {server.user} login password '{server.password}'", "postgres"
            )
            server.execute(f"create database {server.dbname} owner {server.user}", "postgres")
            # nobody but the owner may connect or create anything unless granted
            server.execute(f"revoke all on database {server.dbname} from public", "postgres")
            server.execute("revoke create on schema public from public")
            yield server
        finally:
            if server.is_running():
                server.stop("immediate")
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# S3 (moto)


@dataclass
class S3Server:
    """A running moto server and three IAM users' keys."""

    endpoint: str
    key_id: str  # may do everything
    secret: str = field(repr=False)
    list_only_key_id: str  # may list a bucket, may not read its objects
    list_only_secret: str = field(repr=False)
    read_only_key_id: str  # may list and read, may not write or delete
    read_only_secret: str = field(repr=False)

    def client(self, key_id: str | None = None, secret: str | None = None) -> Any:
        """A boto3 S3 client signed with the full-access user's keys (or the given ones)."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=key_id or self.key_id,
            aws_secret_access_key=secret or self.secret,
            region_name="us-east-1",
        )

    def env(self, key_id: str | None = None, secret: str | None = None) -> dict[str, str]:
        """dlt environment variables for the source: endpoint and (by default the good) keys."""
        return self._env(SOURCE_CREDENTIALS, key_id, secret)

    def lake_env(self, key_id: str | None = None, secret: str | None = None) -> dict[str, str]:
        """Environment variables for a lake's bucket data path (`[warehouse.storage]`)."""
        return self._env(LAKE_STORAGE_CREDENTIALS, key_id, secret)

    def _env(self, prefix: str, key_id: str | None, secret: str | None) -> dict[str, str]:
        return {
            f"{prefix}ENDPOINT_URL": self.endpoint,
            f"{prefix}AWS_ACCESS_KEY_ID": key_id or self.key_id,
            f"{prefix}AWS_SECRET_ACCESS_KEY": secret or self.secret,
        }


def wait_until_answering(url: str, server: subprocess.Popen, log: Path) -> None:
    """Wait for moto's API to answer."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"moto server exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    pytest.fail(f"moto server did not answer within 30 s:\n{log.read_text()}")


def require_signatures(endpoint: str) -> None:
    """From now on moto authenticates every request (signature, key, IAM policy)."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=b"0",
        method="POST",
        headers={"Content-Type": "text/plain"},  # moto reads the raw body
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.load(response)["status"] == "ok"


def iam_user(endpoint: str, name: str, actions: list[str]) -> tuple[str, str]:
    """Create an IAM user allowed `actions` on every resource; return its access key."""
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        aws_access_key_id="setup",
        aws_secret_access_key="setup",
        region_name="us-east-1",
    )
    iam.create_user(UserName=name)
    statement = {"Effect": "Allow", "Action": actions, "Resource": "*"}
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    iam.put_user_policy(UserName=name, PolicyName="s3", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


@contextlib.contextmanager
def no_ambient_aws_credentials() -> Iterator[None]:
    """Hide the machine's own AWS settings (keys, profiles, instance metadata)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in AMBIENT_AWS:
            patch.delenv(name, raising=False)
        patch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield


@contextlib.contextmanager
def s3_server(root: Path) -> Iterator[S3Server]:
    """Start moto's server with the three users, enforce signatures, stop it at the end."""
    log = root / "moto.log"
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with log.open("wb") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_answering(endpoint, server, log)
        key_id, secret = iam_user(endpoint, "loader", ["s3:*"])
        list_key_id, list_secret = iam_user(endpoint, "lister", ["s3:ListBucket"])
        read_key_id, read_secret = iam_user(
            endpoint, "reader", ["s3:ListBucket", "s3:GetObject", "s3:GetBucketLocation"]
        )
        require_signatures(endpoint)
        yield S3Server(endpoint, key_id, secret, list_key_id, list_secret, read_key_id, read_secret)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
