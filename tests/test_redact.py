"""Credentials in URLs, connection strings and messages are masked wherever they are shown."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from conftest import callback_event, jsonl

from pipelines.cli.summary import format_summary
from pipelines.common import redact
from pipelines.common.errors import EXIT_SOURCE, ExpectedFailure
from pipelines.common.redact import (
    has_credentials,
    install_log_redaction,
    redact_text,
    redact_url,
    remember,
    url_secrets,
)
from pipelines.load import source
from pipelines.load.run_stats import RunStats
from pipelines.load.source import _read_failure

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS secret keys hold `/` and `+`

# url, redacted, carries credentials (refused as a source)
CASES = [
    # buckets and URLs without credentials: unchanged
    ("s3://bucket/prefix/2024", "s3://bucket/prefix/2024", False),
    ("gs://bucket/a/b.jsonl", "gs://bucket/a/b.jsonl", False),
    ("s3://bucket/folder@2024/a.json", "s3://bucket/folder@2024/a.json", False),
    # a port followed by an `@` later cannot be told from a password that starts with digits
    # and `/` (`key:0//secret@bucket`): over-redacted, never under-redacted
    ("https://host:8443/archive/a@b.json", "https://***@b.json", True),
    ("https://host:8443/archive/ab.json", "https://host:8443/archive/ab.json", False),
    ("https://[::1]:8443/a@b", "https://[::1]:8443/a@b", False),
    # Azure names the container in the user part: not a secret
    (
        "az://container@account.dfs.core.windows.net/p",
        "az://container@account.dfs.core.windows.net/p",
        False,
    ),
    # user and password: the whole user part goes
    ("s3://AKIAEXAMPLE:s3cr3t@bucket/prefix", "s3://***@bucket/prefix", True),
    # a secret that starts with digits then `/` is not a port (seen in CI with a random key)
    ("s3://AKIAEXAMPLE:0//IGPL1Arcq19nw/gEVXucrOx@bucket/prefix", "s3://***@bucket/prefix", True),
    ("s3://AKIAEXAMPLE:12@bucket/prefix", "s3://***@bucket/prefix", True),
    (f"s3://AKIAEXAMPLE:{AWS_SECRET}@bucket/prefix", "s3://***@bucket/prefix", True),
    ("s3://AKIAEXAMPLE:p@ss?w#rd/x@bucket/p", "s3://***@bucket/p", True),
    ("gs://user:pw@bucket/p", "gs://***@bucket/p", True),
    ("https://user:pass@host:8443/p", "https://***@host:8443/p", True),
    ("https://ghp_token0123456789@host/repo", "https://***@host/repo", True),  # a token as user
    ("s3://AKIAEXAMPLE@bucket/p", "s3://***@bucket/p", True),
    # Azure: the container stays, a password goes
    (
        "abfss://container:key==@account.dfs.core.windows.net/p",
        "abfss://container:***@account.dfs.core.windows.net/p",
        True,
    ),
    # query strings (SAS tokens, signed URLs) and fragments are dropped
    (
        "az://container/p?sv=2022-11-02&ss=b&sig=abc%2Bdef%3D",
        "az://container/p",
        True,
    ),
    (
        "https://account.blob.core.windows.net/c/p?sp=rl&sig=SIG",
        "https://account.blob.core.windows.net/c/p",
        True,
    ),
    ("s3://bucket/p?versionId=3", "s3://bucket/p", True),
    ("gs://bucket/p#token", "gs://bucket/p", True),
    ("S3://KEY:SECRET@bucket/p?x=1", "S3://***@bucket/p", True),
    # local paths, even with `@`, `?`, `#` or `:`: untouched
    ("data/archive", "data/archive", False),
    ("/srv/archive@2024/in?box#1", "/srv/archive@2024/in?box#1", False),
    ("/srv/user:password@host/x", "/srv/user:password@host/x", False),
    ("C:\\archive\\a@b", "C:\\archive\\a@b", False),
    ("file:///srv/archive@2024/in?box", "file:///srv/archive@2024/in?box", False),
    ("file://user:pw@host/srv/a", "file://***@host/srv/a", True),
]


@pytest.fixture(autouse=True)
def no_remembered_secrets() -> Iterator[None]:
    redact.forget_all()
    yield
    redact.forget_all()


@pytest.mark.parametrize(("url", "expected", "credentials"), CASES)
def test_redact_url(url: str, expected: str, credentials: bool) -> None:
    assert redact_url(url) == expected
    assert has_credentials(url) is credentials
    assert redact_url(expected) == expected  # idempotent
    for secret in url_secrets(url):
        assert len(secret) < 4 or secret not in redact_url(url), secret


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "cannot read s3://k:secret@bucket/a.json?sig=x: timeout",
            "cannot read s3://***@bucket/a.json: timeout",
        ),
        (
            "ducklake:postgres:dbname=wh host=db user=etl password=hunter22 port=5432",
            "ducklake:postgres:dbname=wh host=db user=etl password=*** port=5432",
        ),
        ("postgresql://etl:hunter22@db:5432/wh", "postgresql://***@db:5432/wh"),
        ("Password = 'two words'; Host=db", "Password = ***; Host=db"),
        ("no secret in /srv/archive@2024", "no secret in /srv/archive@2024"),
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_remembered_secrets_are_masked_without_their_url() -> None:
    """botocore names the bucket `key:secret@bucket`, without the scheme."""
    url = f"s3://AKIAEXAMPLE:{AWS_SECRET}@bucket/p?sv=2024&sig=SASSIGNATURE"
    remember(*url_secrets(url))
    text = (
        f'Invalid bucket name "AKIAEXAMPLE:{AWS_SECRET}@bucket": ...;'
        " signature SASSIGNATURE; key AKIAEXAMPLE"
    )
    masked = redact_text(text)
    for secret in (AWS_SECRET, "SASSIGNATURE", "AKIAEXAMPLE"):
        assert secret not in masked


def test_expected_failures_and_log_lines_are_redacted() -> None:
    remember("the-pseudonymization-key")
    failure = ExpectedFailure(EXIT_SOURCE, "source s3://k:pw@b/p?sig=SIG is gone")
    assert failure.message == str(failure) == "source s3://***@b/p is gone"
    read = _read_failure("s3://k:pw@b/a.json?sig=SIG", OSError("the-pseudonymization-key"))
    assert read.message == "cannot read s3://***@b/a.json: ***"


def test_every_log_record_is_redacted() -> None:
    """dlt logs through its own handler: redaction happens as any record is made."""
    remember("the-pseudonymization-key", *url_secrets("s3://KEYID:longpassword@b/p"))
    install_log_redaction()
    install_log_redaction()  # once only
    stream = io.StringIO()
    own = logging.getLogger("dlt-like")
    own.propagate = False
    own.addHandler(logging.StreamHandler(stream))
    try:
        raise ValueError("bucket KEYID:longpassword@b with the-pseudonymization-key")
    except ValueError:
        own.exception("loading %s", "s3://k:pw@b/p?sig=SIG")
    own.warning(
        "Sending request headers={'Authorization': b'AWS4-HMAC-SHA256 Credential=AKIA/x',"
        " 'X-Amz-Security-Token': b'FwoGZXIvYXdzE'}"
    )
    line = stream.getvalue()
    assert "loading s3://***@b/p" in line and "ValueError: bucket ***@b with ***" in line
    secrets = ("the-pseudonymization-key", "SIG", "pw", "KEYID", "longpassword", "AKIA", "FwoG")
    for secret in secrets:
        assert secret not in line


def test_summary_is_redacted() -> None:
    summary = format_summary(
        "s3://k:pw@bucket/p?sig=SIG", "ducklake:postgres:password=hunter22", None, None, {}
    )
    assert "  source      s3://***@bucket/p\n" in summary
    assert "password=***" in summary and "hunter22" not in summary and "SIG" not in summary


def test_stored_file_urls_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    """`fileUrl` of `raw.file_audit` and `raw.rejected_events`, as the reader makes them."""
    body = jsonl(callback_event("e1")) + b"{broken\n"
    monkeypatch.setattr(source, "_open", lambda item: io.BytesIO(body))
    item = {
        "file_url": "https://KEYID:pw@host/a.jsonl?sv=2024&sig=SIG",
        "size_in_bytes": len(body),
        "modification_date": datetime(2026, 1, 1, tzinfo=UTC),
    }
    rows = list(source._read_file(item, "a.jsonl", "jsonl", 1 << 20, RunStats(), set(), None))
    urls = {table: row["fileUrl"] for table, row in rows if "fileUrl" in row}
    redacted = "https://***@host/a.jsonl"
    assert urls == {"rejected_events": redacted, "file_audit": redacted}
