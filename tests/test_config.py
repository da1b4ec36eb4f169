"""The typed configuration (`pipelines.config`): the documented keys, environment variables
and defaults, comma-separated lists, and the key as a secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO

PROBE = """
import json
from pipelines.config import database_setting, source_config, warehouse_config
w = warehouse_config()
print(json.dumps({
    "database": w.database, "max_record_bytes": w.max_record_bytes,
    "duckdb_memory_limit": w.duckdb_memory_limit,
    "language_preference": list(w.language_preference),
    "closing_statuses": list(w.closing_statuses),
    "has_key": w.pseudonymization_key is not None,
    "repr": repr(w), "bucket_url": source_config().bucket_url,
    "database_setting": database_setting(), "cli_database": database_setting("cli.duckdb"),
}))
"""


def probe(folder: Path, env: dict[str, str] | None = None) -> dict:
    clean_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("WAREHOUSE__", "SOURCES__"))
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=folder,
        env={**clean_env, **(env or {}), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_defaults_without_any_config(tmp_path: Path) -> None:
    got = probe(tmp_path)
    assert got["database"] == got["database_setting"] == "data/warehouse.duckdb"
    assert got["cli_database"] == "cli.duckdb"
    assert got["bucket_url"] == "data/archive"
    assert got["max_record_bytes"] == 16 * 1024 * 1024
    assert got["duckdb_memory_limit"] == "256MB"
    assert got["language_preference"] == ["en", "nl", "fr", "de"]
    assert got["closing_statuses"] == ["CLOSED", "COMPLETED", "CANCELLED"]
    assert not got["has_key"]


def test_environment_variables_and_comma_separated_lists(tmp_path: Path) -> None:
    got = probe(
        tmp_path,
        {
            "WAREHOUSE__DATABASE": "/srv/w.duckdb",
            "WAREHOUSE__MAX_RECORD_BYTES": "1000",
            "WAREHOUSE__DUCKDB_MEMORY_LIMIT": "1GB",
            "WAREHOUSE__LANGUAGE_PREFERENCE": "EN, nl,fr",
            "WAREHOUSE__CLOSING_STATUSES": "closed,done",
            "WAREHOUSE__PSEUDONYMIZATION_KEY": "a-secret-key-value",
            "SOURCES__WEBHOOK_ARCHIVE__BUCKET_URL": "s3://bucket/prefix",
        },
    )
    assert got["database"] == got["database_setting"] == "/srv/w.duckdb"
    assert got["max_record_bytes"] == 1000
    assert got["duckdb_memory_limit"] == "1GB"
    assert got["language_preference"] == ["en", "nl", "fr"]
    assert got["closing_statuses"] == ["CLOSED", "DONE"]
    assert got["bucket_url"] == "s3://bucket/prefix"
    assert got["has_key"]
    assert "a-secret-key-value" not in got["repr"]


def test_toml_files_and_empty_values(tmp_path: Path) -> None:
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text(
        '[warehouse]\nlanguage_preference = ["FR", "en"]\ndatabase = "w.duckdb"\n'
        '[sources.webhook_archive]\nbucket_url = "archive"\n'
    )
    (tmp_path / ".dlt" / "secrets.toml").write_text('[warehouse]\npseudonymization_key = "k"\n')
    got = probe(tmp_path, {"WAREHOUSE__CLOSING_STATUSES": ""})
    assert got["language_preference"] == ["fr", "en"]
    assert got["database"] == "w.duckdb"
    assert got["bucket_url"] == "archive"
    assert got["closing_statuses"] == ["CLOSED", "COMPLETED", "CANCELLED"]
    assert got["has_key"]
    # an empty value is the default, as before
    assert probe(tmp_path, {"WAREHOUSE__DATABASE": ""})["database"] == "data/warehouse.duckdb"


def test_a_key_in_config_toml_is_refused_without_its_value(tmp_path: Path) -> None:
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text(
        '[warehouse]\npseudonymization_key = "committed-key-value"\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.run", "--transforms-only"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "warehouse.pseudonymization_key" in result.stderr
    assert "committed-key-value" not in result.stderr + result.stdout
