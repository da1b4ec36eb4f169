"""`--source s3://bucket/prefix` against a real S3-compatible server: moto's server process.

The bucket is read through dlt's filesystem source with credentials given only as dlt
environment variables (`SOURCES__FILESYSTEM__CREDENTIALS__...`). Moto checks request
signatures and IAM policies once the archive is uploaded, so wrong keys fail as on AWS.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import s3fs
from conftest import callback_event, generate, jsonl, mart_names, query, run_job, table_counts
from dlt.common.storages.fsspec_filesystem import FileItemDict, glob_files
from servers import SOURCE_CREDENTIALS, S3Server, no_ambient_aws_credentials, s3_server

from pipelines.common.errors import EXIT_SOURCE, ExpectedFailure
from pipelines.load import source
from pipelines.load.run_stats import RunStats

pytestmark = pytest.mark.slow  # a real server process per module

BUCKET = "webhook-archive"
PREFIX = "deliveries/v1"
CREDENTIALS = SOURCE_CREDENTIALS


@dataclass
class ArchiveServer(S3Server):
    """The moto server with one archive uploaded to `BUCKET/PREFIX`."""

    archive: Path
    manifest: dict[str, Any]


def upload(client: Any, root: Path, prefix: str) -> int:
    files = sorted(path for path in root.rglob("*") if path.is_file())
    for path in files:
        client.upload_file(str(path), BUCKET, f"{prefix}/{path.relative_to(root).as_posix()}")
    return len(files)


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArchiveServer]:
    root = tmp_path_factory.mktemp("s3")
    archive = root / "archive"
    manifest = generate(archive, 150, 7, "--corrupt", "--gzip-share", "0.3")
    with no_ambient_aws_credentials(), s3_server(root) as server:
        server_info = ArchiveServer(**vars(server), archive=archive, manifest=manifest)
        client = server_info.client()
        client.create_bucket(Bucket=BUCKET)
        assert upload(client, archive, PREFIX) > 10
        yield server_info


def marts(database: Path) -> dict[str, list[tuple]]:
    names = mart_names(database)
    return {name: query(database, f"select * from marts.{name} order by all") for name in names}


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, *words: str) -> str:
    assert proc.returncode == code, proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_bucket_loads_like_a_folder_then_only_new_files(s3: S3Server, tmp_path: Path) -> None:
    local_db = tmp_path / "local" / "w.duckdb"
    local = run_job("--source", str(s3.archive), "--database", str(local_db))
    assert local.returncode == 0, local.stderr

    database = tmp_path / "bucket" / "w.duckdb"
    source = f"s3://{BUCKET}/{PREFIX}"
    first = run_job("--source", source, "--database", str(database), env=s3.env())
    assert first.returncode == 0, first.stderr
    assert s3.secret not in first.stdout + first.stderr

    # a. the same raw tables, rows, source positions and marts as the local folder
    counts = table_counts(database)
    assert counts == table_counts(local_db)
    manifest = s3.manifest
    assert counts["callback_request_events"] == manifest["callback_request_events"]
    assert counts["appointment_events"] == manifest["appointment_events"]
    assert counts["rejected_events"] == manifest["rejected_total"]
    loaded = manifest["distinct_events"]
    duplicates = manifest["duplicate_deliveries"]
    assert f"events      {loaded} loaded, {duplicates} duplicates" in first.stdout
    positions = "select event_id, _source_file, _source_position from raw.{} order by all"
    for table in ("callback_request_events", "appointment_events"):
        assert query(database, positions.format(table)) == query(local_db, positions.format(table))
    rejected = "select source_file, position_kind, position, reason from raw.rejected_events"
    assert query(database, rejected + " order by all") == query(
        local_db, rejected + " order by all"
    )
    audit = (
        "select file, format, size_bytes, records_read, events_loaded, duplicates, rejected"
        " from raw.file_audit order by all"
    )
    assert query(database, audit) == query(local_db, audit)
    bucket_marts = marts(database)
    assert bucket_marts == marts(local_db)
    assert len(bucket_marts["fct_callback_requests"]) == manifest["callback_requests"]
    assert query(
        database, "select distinct split_part(file_url, '://', 1) from raw.file_audit"
    ) == [("s3",)]

    # b. nothing new: nothing read, nothing loaded
    files = query(database, "select count(distinct file) from raw.file_audit")[0][0]
    second = run_job("--source", source, "--database", str(database), env=s3.env())
    assert second.returncode == 0, second.stderr
    assert "events      0 loaded" in second.stdout
    assert f"files       0 read, {files} unchanged" in second.stdout
    assert table_counts(database) == counts

    # c. one more file: only its new events load (its re-delivered event is a duplicate)
    old_id = query(database, "select min(event_id) from raw.callback_request_events")[0][0]
    new = [callback_event("s3-new-1", "cr-s3-1"), callback_event("s3-new-2", "cr-s3-2")]
    body = jsonl(*new, {"id": old_id, **{k: v for k, v in new[0].items() if k != "id"}})
    s3.client().put_object(Bucket=BUCKET, Key=f"{PREFIX}/2025/03/01/late.jsonl", Body=body)
    third = run_job("--source", source, "--database", str(database), env=s3.env())
    assert third.returncode == 0, third.stderr
    assert "events      2 loaded, 1 duplicates" in third.stdout
    assert f"files       1 read, {files} unchanged" in third.stdout
    after = table_counts(database)
    assert after["callback_request_events"] == counts["callback_request_events"] + 2
    assert after["appointment_events"] == counts["appointment_events"]
    assert after["rejected_events"] == counts["rejected_events"]
    latest = (
        "select event_id, _source_file from raw.callback_request_events where _dlt_load_id = "
        "(select max(_dlt_load_id) from raw.callback_request_events) order by event_id"
    )
    assert query(database, latest) == [
        ("s3-new-1", "2025/03/01/late.jsonl"),
        ("s3-new-2", "2025/03/01/late.jsonl"),
    ]


def test_missing_bucket_is_a_source_error(s3: S3Server, tmp_path: Path) -> None:
    proc = run_job(
        "--source", "s3://no-such-bucket/x", "--database", str(tmp_path / "w.duckdb"), env=s3.env()
    )
    assert_one_line_error(proc, 3, "source not found", "bucket does not exist")


@pytest.mark.parametrize("key", ["known key, wrong secret", "unknown key"])
def test_wrong_credentials_fail_without_leaking_the_secret(
    s3: S3Server, tmp_path: Path, key: str
) -> None:
    wrong_secret = f"wrong-{secrets.token_hex(16)}"
    key_id = s3.key_id if key == "known key, wrong secret" else "AKIAUNKNOWNKEY000000"
    proc = run_job(
        "--source",
        f"s3://{BUCKET}/{PREFIX}",
        "--database",
        str(tmp_path / "w.duckdb"),
        env=s3.env(key_id, wrong_secret),
    )
    line = assert_one_line_error(proc, 5, "no permission to list the source", CREDENTIALS)
    assert "w.duckdb" not in line  # the bucket is refused, not the warehouse
    assert wrong_secret not in proc.stdout + proc.stderr


def test_key_that_may_list_but_not_read_fails_naming_the_file(s3: S3Server, tmp_path: Path) -> None:
    database = tmp_path / "w.duckdb"
    env = s3.env(s3.list_only_key_id, s3.list_only_secret)
    proc = run_job("--source", f"s3://{BUCKET}/{PREFIX}", "--database", str(database), env=env)
    line = assert_one_line_error(proc, 5, f"no permission to read s3://{BUCKET}/{PREFIX}/")
    assert s3.list_only_secret not in proc.stdout + proc.stderr
    # the run stopped before loading: no table, so no file is recorded as read
    loaded = "select count(*) from information_schema.tables where table_schema = 'raw'"
    assert not database.exists() or query(database, loaded) == [(0,)], line


@pytest.mark.parametrize(
    "env_prefix", [None, "SOURCES__WEBHOOK_ARCHIVE__CREDENTIALS__"], ids=["none", "wrong-section"]
)
def test_credentials_only_under_sources_filesystem(
    s3: S3Server, tmp_path: Path, env_prefix: str | None
) -> None:
    """dlt looks up the filesystem resource's credentials in `sources.source.filesystem`,
    `sources.filesystem`, ... but never under the source's name (`webhook_archive`)."""
    env = {f"{CREDENTIALS}ENDPOINT_URL": s3.endpoint}
    if env_prefix:
        env |= {
            f"{env_prefix}AWS_ACCESS_KEY_ID": s3.key_id,
            f"{env_prefix}AWS_SECRET_ACCESS_KEY": s3.secret,
        }
    proc = run_job(
        "--source",
        f"s3://{BUCKET}/{PREFIX}",
        "--database",
        str(tmp_path / "w.duckdb"),
        env=env,
    )
    assert_one_line_error(
        proc, 3, "missing source credentials", "credentials.aws_access_key_id", CREDENTIALS
    )
    assert s3.secret not in proc.stdout + proc.stderr


def test_read_error_after_open_fails_the_run_instead_of_rejecting_the_file(
    s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bucket read failing mid-file (network, expired credentials, object deleted) must not
    become an `unreadable_file` rejection: the file would be recorded as read, never retried."""
    client = s3.client()
    client.put_object(Bucket=BUCKET, Key="vanishing/a.jsonl", Body=jsonl(callback_event("v1")))
    fs = s3fs.S3FileSystem(key=s3.key_id, secret=s3.secret, endpoint_url=s3.endpoint)
    listed = next(glob_files(fs, f"s3://{BUCKET}/vanishing", "**/*"))
    item = FileItemDict(listed, fs)
    read_records = source.iter_records

    def delete_then_read(stream: Any, *args: Any) -> Any:
        client.delete_object(Bucket=BUCKET, Key="vanishing/a.jsonl")  # opened, not yet read
        return read_records(stream, *args)

    monkeypatch.setattr(source, "iter_records", delete_then_read)
    rows = source._read_file(item, "a.jsonl", "jsonl", 1 << 20, RunStats(), set(), None)
    with pytest.raises(ExpectedFailure) as failure:
        list(rows)
    assert failure.value.exit_code == EXIT_SOURCE
    assert failure.value.message.startswith(f"cannot read s3://{BUCKET}/vanishing/a.jsonl: ")


@pytest.mark.slow
def test_firehose_archive_loads_from_the_bucket_like_from_a_folder(
    s3: S3Server, tmp_path: Path
) -> None:
    """Extensionless objects of records back to back (gzipped or not), recognised by content
    through the non-seekable bucket stream, give the same warehouse as the same folder."""
    archive = tmp_path / "firehose"
    manifest = generate(archive, 300, 9, "--corrupt", "--layout", "firehose", "--gzip-share", "0.4")
    prefix = "firehose/raw"
    assert upload(s3.client(), archive, prefix) == manifest["files_total"] + 1
    local_db = tmp_path / "local.duckdb"
    local = run_job("--source", str(archive), "--database", str(local_db))
    assert local.returncode == 0, local.stderr
    database = tmp_path / "bucket.duckdb"
    bucket = run_job(
        "--source", f"s3://{BUCKET}/{prefix}", "--database", str(database), env=s3.env()
    )
    assert bucket.returncode == 0, bucket.stderr
    total = manifest["files_total"]
    assert f"format known by name 0 (.json/.jsonl/.ndjson[.gz]), by content {total}" in (
        bucket.stdout
    )
    counts = table_counts(database)
    assert counts == table_counts(local_db)
    assert counts["rejected_events"] == manifest["rejected_total"]
    assert counts["callback_request_events"] == manifest["callback_request_events"]
    rejected = "select source_file, position_kind, position, reason from raw.rejected_events"
    assert query(database, rejected + " order by all") == query(
        local_db, rejected + " order by all"
    )
    audit = "select file, format, recognised_by, records_read, rejected from raw.file_audit"
    assert query(database, audit + " order by all") == query(local_db, audit + " order by all")
