"""`make docs`: the catalog written from transforms/ and the warehouse (a file, a lake, or
nothing built yet), opened in a real headless Chromium: the index's lineage links lead to the
model pages, which show the model's docs, columns with types, row counts and lineage."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

from pipelines.marts.runner import build_models
from pipelines.marts.transform_settings import TransformSettings
from pipelines.warehouse.connection import connect
from pipelines.warehouse.location import parse_warehouse

REPO = Path(__file__).resolve().parents[1]
RAW_EVENTS = """
create schema raw;
create table raw.callback_request_events as select * from (values
    ('e1', 'cr-1', 'Callback-request.create', 'OPEN', timestamptz '2026-09-01 09:00:00+00'),
    ('e2', 'cr-1', 'Callback-request.update', 'CLOSED', timestamptz '2026-09-01 12:00:00+00'),
    ('e3', 'cr-2', 'Callback-request.create', 'OPEN', timestamptz '2026-09-02 10:00:00+00')
) as v(event_id, callback_request_id, event_type, status, updated_at);
"""


def make_warehouse(setting: str) -> None:
    """A warehouse with three raw events (written by hand: no dlt load) and its models."""
    connection = connect(parse_warehouse(setting))
    connection.execute(RAW_EVENTS)
    connection.close()
    build_models(parse_warehouse(setting), TransformSettings())


def write_docs(database: str, out: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.docs", "--database", database, "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def shown(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert match, element_id
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def test_docs_before_anything_is_built(tmp_path: Path) -> None:
    out = tmp_path / "docs"
    proc = write_docs(str(tmp_path / "none.duckdb"), out)
    assert "19 models" in proc.stdout
    index = (out / "index.html").read_text()
    assert shown(index, "warehouse-state") == "not built"
    page = (out / "models" / "marts.fct_callback_requests.html").read_text()
    assert shown(page, "rows") == "not built"
    # types still shown: from the SQL run on empty sources
    assert re.search(r">closed_at</td><td[^>]*>TIMESTAMP WITH TIME ZONE<", page)
    assert not re.search(r"""(src|href|url)\(?=?["']?(https?:)?//""", index)  # nothing fetched
    assert not (tmp_path / "none.duckdb").exists()  # reading never creates the warehouse


def test_docs_on_a_lake(tmp_path: Path) -> None:
    setting = f"ducklake:sqlite:{tmp_path / 'lake' / 'catalog.sqlite'}"
    (tmp_path / "lake").mkdir()
    make_warehouse(setting)
    out = tmp_path / "docs"
    write_docs(setting, out)
    page = (out / "models" / "marts.fct_callback_requests.html").read_text()
    assert shown(page, "rows") == "2"
    assert shown(page, "warehouse-state") == "built"
    assert shown(page, "newest-event").startswith("2026-09-02 10:00 UTC (")


class Dom(HTMLParser):
    """Links (with the lineage node they belong to), ids with their text, body attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, str] = {}  # lineage node -> href
        self.hrefs: list[str] = []
        self.ids: set[str] = set()
        self.body: dict[str, str] = {}
        self.classes: dict[str, str] = {}  # lineage node -> its class attribute

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if "id" in attr:
            self.ids.add(attr["id"])
        if tag == "body":
            self.body = attr
        if tag == "a" and "href" in attr:
            self.hrefs.append(attr["href"])
            if "data-node" in attr:
                self.links[attr["data-node"]] = attr["href"]
                self.classes[attr["data-node"]] = attr.get("class", "")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is missing: .ci/run installs it (apt-get install -y chromium)")
    pytest.skip("chromium is not installed (apt-get install -y chromium)")


def dump_dom(url: str, profile: Path) -> str:
    """The DOM after the page's scripts ran, from a real headless Chromium, offline."""
    proc = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_the_catalog_in_a_headless_browser(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    make_warehouse(str(database))
    out = tmp_path / "docs"
    write_docs(str(database), out)
    profile = tmp_path / "chromium-profile"

    index_url = (out / "index.html").as_uri()
    index = dump_dom(index_url, profile)
    dom = Dom()
    dom.feed(index)
    assert dom.body.get("data-ready") == "yes"  # the page's script ran
    assert shown(index, "shown") == "19 of 19 models"
    assert shown(index, "newest-event").startswith("2026-09-02 10:00 UTC (")
    # the lineage goes from raw through staging and intermediate to the marts
    for node in (
        "raw.callback_request_events",
        "staging.stg_callback_request_events",
        "intermediate.int_callback_requests_current",
        "marts.fct_callback_requests",
    ):
        assert node in dom.links, node
    assert all(not urlparse(h).netloc for h in dom.hrefs)  # every link stays on disk

    # follow the lineage link of a mart
    page_url = urljoin(index_url, dom.links["marts.fct_callback_requests"])
    assert urlparse(page_url).scheme == "file"
    page = dump_dom(page_url, profile)
    assert shown(page, "model-name") == "marts.fct_callback_requests"
    assert shown(page, "grain") == "one row per callback request, current state"
    assert shown(page, "key") == "callback_request_id"
    assert shown(page, "rows") == "2"
    assert "intermediate.int_callback_requests_current" in shown(page, "upstream")
    assert "marts.agg_callback_requests_daily" in shown(page, "downstream")
    assert re.search(
        r">callback_request_id</td><td[^>]*>VARCHAR</td><td>The callback request's id", page
    )
    assert "unique(marts.fct_callback_requests: callback_request_id)" in page
    page_dom = Dom()
    page_dom.feed(page)
    assert page_dom.body.get("data-ready") == "yes"
    assert "current" in page_dom.classes["marts.fct_callback_requests"]  # set by the script

    # and from there upstream to a staging model, then to the raw table it reads
    staging_url = urljoin(page_url, page_dom.links["staging.stg_callback_request_events"])
    staging = dump_dom(staging_url, profile)
    assert shown(staging, "model-name") == "staging.stg_callback_request_events"
    assert shown(staging, "rows") == "3"
    staging_dom = Dom()
    staging_dom.feed(staging)
    raw_url = urljoin(staging_url, staging_dom.links["raw.callback_request_events"])
    assert urlparse(raw_url).fragment == "raw-callback_request_events"
    raw = dump_dom(raw_url, profile)
    raw_dom = Dom()
    raw_dom.feed(raw)
    assert "raw-callback_request_events" in raw_dom.ids
