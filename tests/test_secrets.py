"""Secrets never reach the warehouse, dlt's working folder or the run's output.

The pseudonymization key (and its guessable derivatives) and the credentials of a source URL
are searched for in every column of every table of every schema (cast to text, dlt's
compressed state unpacked), in every file of `<database>.dlt-pipelines` (the pickled trace
too) and in stdout and stderr of real runs.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import subprocess
from pathlib import Path

import duckdb
import pytest
from conftest import generate, query, run_job
from dlt.common.versioned_state import decompress_state
from test_bucket import (  # noqa: F401 - pytest fixtures of the moto server
    BUCKET,
    PREFIX,
    S3Server,
    assert_one_line_error,
    no_ambient_aws_credentials,
    s3,
)

from pipelines.load.pipeline import load_archive, pipelines_dir_for
from pipelines.marts.key_check import key_verifier
from pipelines.marts.runner import build_models
from pipelines.marts.transform_settings import TransformSettings

KEY = f"pseudo-{secrets.token_hex(12)}"
OTHER_KEY = f"pseudo-{secrets.token_hex(12)}"
CUSTOMER_KEYS = "select customer_key from marts.dim_customers order by 1"
BUILD_KEY = "select build_key from marts._build_state"
BUILD_STATE = "select build_key, key_salt, key_verifier from marts._build_state"


def derivatives(secret: str) -> list[str]:
    """The secret and what one could compute from a guess of it without any other input."""
    raw = secret.encode()
    return [
        secret,
        raw.hex(),
        base64.b64encode(raw).decode(),
        hashlib.sha256(raw).hexdigest(),
        hashlib.sha1(raw).hexdigest(),  # noqa: S324 - a derivative to look for, not a use
        hashlib.md5(raw).hexdigest(),  # noqa: S324
    ]


def warehouse_hits(database: Path, needles: list[str]) -> list[str]:
    """`schema.table` (and dlt's state) of every row holding a needle, in any column."""
    hits = []
    with duckdb.connect(str(database), read_only=True) as con:
        columns: dict[tuple[str, str], list[str]] = {}
        for schema, table, column in con.execute(
            "select table_schema, table_name, column_name from information_schema.columns"
            " where table_catalog = current_database() order by all"
        ).fetchall():
            columns.setdefault((schema, table), []).append(column)
        assert ("marts", "dim_customers") in columns and ("raw", "file_audit") in columns
        for (schema, table), names in columns.items():
            text = ", ".join(f"coalesce(cast(\"{name}\" as varchar), '')" for name in names)
            matches = " or ".join(["contains(lower(row_text), lower(?))"] * len(needles))
            found = con.execute(
                f'select count(*) from (select concat_ws(chr(1), {text}) as row_text from "{schema}"'
                f'."{table}") where {matches}',
                needles,
            ).fetchone()[0]
            if found:
                hits.append(f"{schema}.{table}")
        for (state,) in con.execute("select state from raw._dlt_pipeline_state").fetchall():
            unpacked = str(decompress_state(state)).lower()
            hits += [f"dlt state: {n}" for n in needles if n.lower() in unpacked]
    return hits


def folder_hits(folder: Path, needles: list[str]) -> list[str]:
    """Files under `folder` that hold a needle (as bytes)."""
    return [
        f"{path.relative_to(folder)}: {needle}"
        for path in sorted(folder.rglob("*"))
        if path.is_file()
        for needle in needles
        if needle.encode().lower() in path.read_bytes().lower()
    ]


def output_hits(proc: subprocess.CompletedProcess, needles: list[str]) -> list[str]:
    return [needle for needle in needles if needle.lower() in (proc.stdout + proc.stderr).lower()]


def assert_nowhere(database: Path, runs: list[subprocess.CompletedProcess], needles: list[str]):
    assert [hit for proc in runs for hit in output_hits(proc, needles)] == []
    if database.exists():
        assert warehouse_hits(database, needles) == []
    if pipelines_dir_for(database).exists():
        assert folder_hits(pipelines_dir_for(database), needles) == []


def key_env(key: str) -> dict[str, str]:
    return {"WAREHOUSE__PSEUDONYMIZATION_KEY": key}


def test_search_finds_a_planted_secret(tmp_path: Path) -> None:
    """The searches below can fail: a value in any column of any schema is found."""
    database = tmp_path / "w.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("create schema marts; create schema raw")
        con.execute("create table marts.dim_customers (n int, m struct(x varchar))")
        con.execute(f"insert into marts.dim_customers values (1, {{'x': 'a{KEY}b'}})")
        con.execute("create table raw.file_audit (n int)")
        con.execute("create table raw._dlt_pipeline_state (state varchar)")
    assert warehouse_hits(database, derivatives(KEY)) == ["marts.dim_customers"]
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "e" / "trace.pickle").write_bytes(b"\x80" + KEY.encode())
    assert folder_hits(tmp_path / "d", [KEY]) == [f"e/trace.pickle: {KEY}"]


def test_settings_repr_never_shows_the_key() -> None:
    settings = TransformSettings(pseudonymization_key=KEY)
    assert KEY not in repr(settings) and KEY not in str(settings)
    assert KEY not in repr(settings.public_settings())


def test_key_is_in_no_table_and_no_output_and_a_new_key_rebuilds(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    generate(archive, 40, 5)
    database = tmp_path / "w.duckdb"
    source = ("--source", str(archive), "--database", str(database))
    first = run_job(*source, env=key_env(KEY))
    assert first.returncode == 0, first.stderr
    verbose = run_job(*source, "-v", "--transforms-only", env=key_env(KEY))
    assert verbose.returncode == 0, verbose.stderr
    keys = query(database, CUSTOMER_KEYS)
    assert len(keys) > 5
    build_key = query(database, BUILD_KEY)
    assert_nowhere(database, [first, verbose], derivatives(KEY))

    # another key: the marts are rebuilt (nothing else changed), every customer key changes
    other = run_job(*source, env=key_env(OTHER_KEY))
    assert other.returncode == 0, other.stderr
    assert "models      up to date" not in other.stdout and " built, " in other.stdout
    other_keys = query(database, CUSTOMER_KEYS)
    assert len(other_keys) == len(keys) and not set(other_keys) & set(keys)
    again = run_job(*source, env=key_env(OTHER_KEY))
    assert "models      up to date" in again.stdout, again.stdout
    # the build key does not depend on the key at all (it did: sha256 over the settings'
    # repr, key included, told a right guess of the key from a wrong one)
    assert query(database, BUILD_KEY) == build_key
    assert_nowhere(database, [other, again], derivatives(KEY) + derivatives(OTHER_KEY))


def test_build_state_is_salted(tmp_path: Path) -> None:
    """The same key gives another verifier in another warehouse: no table of precomputed
    guesses (the development key first) fits every warehouse."""
    archive = tmp_path / "archive"
    generate(archive, 10, 5)
    verifiers = []
    for name in ("a", "b"):
        database = tmp_path / f"{name}.duckdb"
        load_archive(str(archive), database)
        build_models(database, TransformSettings(pseudonymization_key=KEY))
        (build_key, salt, verifier) = query(database, BUILD_STATE)[0]
        assert verifier == key_verifier(KEY, salt)
        assert KEY not in build_key + salt + verifier
        verifiers.append(verifier)
    assert verifiers[0] != verifiers[1]


@pytest.mark.slow
def test_credentials_in_the_source_url_are_refused_and_never_echoed(
    s3: S3Server,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    """s3fs would take `key:secret@bucket` for a bucket name and a query string for part of
    the prefix: the run refuses such a URL in one line that names it redacted. Then a real
    run from the bucket leaves neither the URL's secrets, the credentials (given the dlt
    way) nor the pseudonymization key anywhere."""
    database = tmp_path / "w.duckdb"
    signature = f"sig{secrets.token_hex(10)}"
    url = f"s3://{s3.key_id}:{s3.secret}@{BUCKET}/{PREFIX}?sv=2024-05-04&sig={signature}"
    needles = [s3.secret, s3.key_id, signature, f"{s3.key_id}:{s3.secret}"]
    needles += derivatives(KEY)
    env = {**s3.env(), **key_env(KEY)}
    runs = [
        run_job("--source", url, "--database", str(database), env=env),
        run_job(
            "--database", str(database), env={**env, "SOURCES__WEBHOOK_ARCHIVE__BUCKET_URL": url}
        ),
    ]
    for proc in runs:
        line = assert_one_line_error(proc, 3, f"source s3://***@{BUCKET}/{PREFIX}:", "SOURCES__")
        assert "?" not in line
    assert_nowhere(database, runs, needles)

    loaded = run_job("--source", f"s3://{BUCKET}/{PREFIX}", "--database", str(database), env=env)
    assert loaded.returncode == 0, loaded.stderr
    verbose = run_job(
        "-v", "--source", f"s3://{BUCKET}/{PREFIX}", "--database", str(database), env=env
    )
    assert verbose.returncode == 0, verbose.stderr
    assert query(database, "select count(*) from marts.dim_customers")[0][0] > 0
    urls = query(database, "select distinct split_part(file_url, '/', 3) from raw.file_audit")
    assert urls == [(BUCKET,)]
    assert_nowhere(database, [*runs, loaded, verbose], needles)
