"""The run lock of a lake with a PostgreSQL catalog: one run at a time, across machines.

A lock file only works on one machine. Every machine of a team reaches the catalog database, so
the lock is there: a session-level advisory lock (`pg_try_advisory_lock`) on a connection of its
own, held for the whole run. PostgreSQL releases it when that session ends: at the end of the
run, or when the holder dies (its socket closes; a machine that vanishes is noticed through the
server's TCP keepalives). The key is derived from the lake's identity (its metadata schema), so
every job on that lake, whatever machine, contends for the same lock, and two lakes in one
database do not.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pipelines.common.errors import (
    CATALOG_REFUSED,
    EXIT_LOCKED,
    EXIT_PERMISSION,
    EXIT_SOURCE,
    ExpectedFailure,
)
from pipelines.warehouse.location import Warehouse

_POLL_SECONDS = 1.0
# what the lock session calls itself (`application_name`, seen in pg_stat_activity)
APPLICATION_PREFIX = "pexip-warehouse run"


def lock_key(metadata_schema: str) -> int:
    """The advisory lock key of a lake: 64 bits of a hash of its metadata schema."""
    digest = hashlib.sha256(f"pexip-warehouse run lock|{metadata_schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _application_name() -> str:
    # PostgreSQL keeps 63 bytes of it
    return f"{APPLICATION_PREFIX} pid {os.getpid()} on {socket.gethostname()}"[:63]


def catalog_connection(warehouse: Warehouse, application_name: str | None = None) -> Any:
    """A psycopg2 connection (autocommit) to the lake's PostgreSQL catalog.

    The password is the configured one, else libpq's own (`PGPASSWORD`, `~/.pgpass`). An
    unreachable catalog or refused credentials raise one `ExpectedFailure` line that names the
    catalog without a password."""
    import psycopg2

    params: dict[str, Any] = dict(warehouse.postgres_params)
    if warehouse.catalog_password:
        params["password"] = warehouse.catalog_password
    params.setdefault("connect_timeout", "10")
    params["application_name"] = application_name or _application_name()
    # the lock session is idle for the whole run: keep it alive through idle firewalls
    params.setdefault("keepalives", "1")
    params.setdefault("keepalives_idle", "30")
    try:
        connection = psycopg2.connect(**params)
    except psycopg2.OperationalError as error:
        reason = " ".join(str(error).split())
        if warehouse.catalog_password:
            reason = reason.replace(warehouse.catalog_password, "***")
        # the same words and exit codes as a failure inside the run (`errors.classify`)
        if any(phrase.lower() in reason.lower() for phrase in CATALOG_REFUSED):
            raise ExpectedFailure(
                EXIT_PERMISSION,
                f"the catalog server of {warehouse.display} refused the connection: {reason} "
                "(check the user and WAREHOUSE__CATALOG_PASSWORD)",
            ) from None
        raise ExpectedFailure(
            EXIT_SOURCE, f"the catalog server of {warehouse.display} is unreachable: {reason}"
        ) from None
    connection.autocommit = True
    return connection


def _holder(connection: Any, key: int) -> str:
    """Who holds the lock, as far as this role may see: the holder's application name (pid and
    host of its run), client address and since when."""
    high, low = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
    with connection.cursor() as cursor:
        cursor.execute(
            "select a.application_name, host(a.client_addr), a.backend_start"
            " from pg_locks l left join pg_stat_activity a on a.pid = l.pid"
            " where l.locktype = 'advisory' and l.granted and l.database = ("
            "   select oid from pg_database where datname = current_database())"
            " and l.classid::bigint = %s and l.objid::bigint = %s and l.objsubid = 1"
            " limit 1",
            (high, low),
        )
        row = cursor.fetchone()
    if row is None:
        return ""
    name, address, since = row
    parts = []
    if name and name.startswith(APPLICATION_PREFIX):
        parts.append(name[len(APPLICATION_PREFIX) :].strip())
    elif name:
        parts.append(name)
    if address:
        parts.append(f"from {address}")
    if since is not None:
        parts.append(f"since {since:%Y-%m-%d %H:%M:%S %Z}".strip())
    return " ".join(parts)


@contextmanager
def catalog_run_lock(
    warehouse: Warehouse, metadata_schema: str, wait_seconds: float = 0.0
) -> Iterator[None]:
    """Hold the lake's advisory lock in its PostgreSQL catalog for the duration of a run.

    Fail at once with exit 4 when another run (on any machine) holds it, or poll for it up to
    `wait_seconds`."""
    key = lock_key(metadata_schema)
    deadline = time.monotonic() + wait_seconds
    connection = catalog_connection(warehouse)
    try:
        while True:
            with connection.cursor() as cursor:
                cursor.execute("select pg_try_advisory_lock(%s)", (key,))
                (taken,) = cursor.fetchone()
            if taken:
                break
            if time.monotonic() >= deadline:
                holder = _holder(connection, key)
                by = f" ({holder})" if holder else ""
                raise ExpectedFailure(
                    EXIT_LOCKED,
                    f"another run holds the lake {warehouse.display}{by}; try again when it "
                    "ends (or pass --wait SECONDS)",
                )
            time.sleep(_POLL_SECONDS)
        yield
    finally:
        # closing the session releases the lock (and an unlock on a lost session cannot fail)
        connection.close()
