"""Write the catalog as static HTML: `index.html` (lineage, every model, the raw tables) and
`models/<layer>.<name>.html` per model. Everything is inline: the pages open from disk."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from pipelines.docs.catalog import Catalog, ModelEntry
from pipelines.docs.lineage import lineage_svg
from pipelines.marts.freshness import describe_newest

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1em 2em;
  color: #212121; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
code, pre, .mono { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: #f6f8fa; padding: 1em; overflow-x: auto; border-radius: 6px; }
table { border-collapse: collapse; width: 100%; margin: .5em 0; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid #eee; }
th { background: #fafafa; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.meta { color: #555; } .meta b { color: #212121; } .inherited { color: #777; font-size: .9em; }
.missing { color: #b71c1c; } .stale { color: #b71c1c; font-weight: bold; }
#lineage-box { overflow-x: auto; border: 1px solid #ddd; border-radius: 6px; background: #fff; }
#lineage text { font: 11px ui-monospace, Menlo, Consolas, monospace; fill: #212121; }
#lineage text.layer { font: bold 13px system-ui, sans-serif; fill: #455a64; }
#lineage .node rect { fill: #fff; stroke: #78909c; } #lineage .node:hover rect { stroke: #1565c0; stroke-width: 2; }
#lineage .node.current rect { fill: #1565c0; } #lineage .node.current text { fill: #fff; }
#lineage .edge { fill: none; stroke: #b0bec5; stroke-width: 1.2; }
#lineage .edge.lit { stroke: #1565c0; stroke-width: 2; }
nav a { margin-right: 1em; } input#filter { padding: 4px 8px; width: 20em; }
ul.links { columns: 2; }
"""

# highlight the edges of the node under the pointer; filter the model list; say it ran
JS = """
(function () {
  var svg = document.getElementById('lineage');
  if (svg) {
    svg.querySelectorAll('.node').forEach(function (node) {
      var name = node.getAttribute('data-node');
      node.addEventListener('mouseenter', function () {
        svg.querySelectorAll('.edge').forEach(function (e) {
          if (e.getAttribute('data-from') === name || e.getAttribute('data-to') === name) {
            e.classList.add('lit');
          }
        });
      });
      node.addEventListener('mouseleave', function () {
        svg.querySelectorAll('.edge.lit').forEach(function (e) { e.classList.remove('lit'); });
      });
    });
    var current = document.body.getAttribute('data-model');
    if (current) {
      svg.querySelectorAll('.node').forEach(function (node) {
        if (node.getAttribute('data-node') === current) { node.classList.add('current'); }
      });
      svg.querySelectorAll('.edge').forEach(function (e) {
        if (e.getAttribute('data-from') === current || e.getAttribute('data-to') === current) {
          e.classList.add('lit');
        }
      });
    }
  }
  var filter = document.getElementById('filter');
  var rows = document.querySelectorAll('#models tbody tr');
  var shown = document.getElementById('shown');
  function apply() {
    var text = filter ? filter.value.toLowerCase() : '';
    var n = 0;
    rows.forEach(function (row) {
      var hit = row.textContent.toLowerCase().indexOf(text) >= 0;
      row.style.display = hit ? '' : 'none';
      if (hit) { n += 1; }
    });
    if (shown) { shown.textContent = n + ' of ' + rows.length + ' models'; }
  }
  if (filter) { filter.addEventListener('input', apply); }
  apply();
  document.body.setAttribute('data-ready', 'yes');
})();
"""


def _text(text: str) -> str:
    """Escaped, with `code` spans."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))


def _page(title: str, body: str, model: str = "") -> str:
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{CSS}</style></head>"
        f'<body data-model="{escape(model)}">{body}<script>{JS}</script></body></html>\n'
    )


def _rows(entry: ModelEntry) -> str:
    return "not built" if entry.row_count is None else f"{entry.row_count:,}"


def _link(node: str, prefix: str) -> str:
    if node.startswith("raw."):
        name = node.split(".", 1)[1]
        return f'<a href="{prefix}index.html#raw-{escape(name)}"><code>{escape(node)}</code></a>'
    return f'<a href="{prefix}models/{escape(node)}.html"><code>{escape(node)}</code></a>'


def _state(catalog: Catalog, prefix: str = "") -> str:
    newest = (
        describe_newest(catalog.newest_event_at)
        if catalog.warehouse_state == "built"
        else "unknown (not built)"
    )
    return (
        f'<p class="meta">Warehouse <code>{escape(catalog.warehouse)}</code>: '
        f'<b id="warehouse-state">{escape(catalog.warehouse_state)}</b>. '
        f'Newest event: <b id="newest-event">{escape(newest)}</b>. '
        f"Generated {catalog.generated_at:%Y-%m-%d %H:%M UTC} by <code>make docs</code>.</p>"
    )


def index_page(catalog: Catalog) -> str:
    """The index: lineage, every model by layer, the raw tables, the reconciliation checks."""
    rows = []
    for entry in catalog.models.values():
        doc = entry.doc
        rows.append(
            f'<tr id="model-{escape(entry.table)}"><td>{escape(entry.layer)}</td>'
            f"<td>{_link(entry.table, '')}</td>"
            f"<td>{_text(doc.description) if doc else '<span class=missing>undocumented</span>'}</td>"
            f"<td>{escape(doc.grain) if doc else ''}</td>"
            f'<td class="mono">{escape(", ".join(doc.key)) if doc else ""}</td>'
            f'<td class="num">{_rows(entry)}</td></tr>'
        )
    raw = []
    for table, columns in sorted(catalog.raw_tables.items()):
        readers = ", ".join(_link(m, "") for m in catalog.raw_downstream.get(table, [])) or "none"
        cols = ", ".join(f"<code>{escape(c)}</code> {escape(k)}" for c, k in columns.items())
        raw.append(
            f'<h3 id="raw-{escape(table)}"><code>raw.{escape(table)}</code></h3>'
            f"<p>Read as <code>src_{escape(table)}</code> (columns from "
            f"<code>transforms/raw_contract.toml</code>) by: {readers}</p>"
            f'<p class="meta">{cols}</p>'
        )
    recon = "".join(
        f"<li><b>{escape(c.name)}</b>: {_text(c.description)} "
        f"(reads {', '.join(_link(m, '') for m in sorted(c.models))})</li>"
        for c in catalog.reconciliations
    )
    body = (
        "<h1>Pexip Engage warehouse: model catalog</h1>"
        + _state(catalog)
        + "<h2>Lineage</h2><p class=meta>From the raw tables dlt loads, through staging and "
        "intermediate, to the marts analysts read. Click a box to open its page.</p>"
        + f'<div id="lineage-box">{lineage_svg(catalog)}</div>'
        + '<h2>Models</h2><p><input id="filter" type="search" placeholder="filter models">'
        ' <span id="shown" class="meta"></span></p>'
        '<table id="models"><thead><tr><th>layer</th><th>model</th><th>description</th>'
        "<th>grain</th><th>key</th><th>rows</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        + "<h2>Reconciliation checks</h2><p class=meta><code>transforms/checks/*.sql</code>: "
        "run after every build with the checks of each model.</p><ul>"
        + recon
        + "</ul><h2>Raw tables</h2>"
        + "".join(raw)
    )
    return _page("Model catalog", body)


def model_page(catalog: Catalog, entry: ModelEntry) -> str:
    """One model: docs, columns, checks, lineage links, SQL."""
    doc = entry.doc
    columns = []
    for column in entry.columns:
        if column.description is None:
            text = '<span class="missing">undocumented</span>'
        else:
            text = _text(column.description)
            if column.described_in != entry.table:
                text += f' <span class="inherited">(as in {_link(column.described_in or "", "../")})</span>'
        columns.append(
            f'<tr><td class="mono">{escape(column.name)}</td><td class="mono">'
            f"{escape(column.type)}</td><td>{text}</td></tr>"
        )
    checks = "".join(
        f"<li><b>{escape(c.name)}</b>{': ' + _text(c.description) if c.description else ''}"
        f"<details><summary>SQL (returns the offending rows)</summary><pre>{escape(c.sql)}</pre>"
        "</details></li>"
        for c in entry.checks
    )
    upstream = ", ".join(_link(u, "../") for u in entry.upstream) or "nothing"
    downstream = ", ".join(_link(d, "../") for d in entry.downstream) or "no model"
    body = (
        '<nav><a href="../index.html">&larr; all models</a></nav>'
        f'<h1 id="model-name">{escape(entry.table)}</h1>'
        f'<p id="description">{_text(doc.description) if doc else "undocumented"}</p>'
        '<table class="facts">'
        f'<tr><th>grain</th><td id="grain">{escape(doc.grain) if doc else ""}</td></tr>'
        f'<tr><th>key</th><td id="key" class="mono">{escape(", ".join(doc.key)) if doc else ""}</td></tr>'
        f'<tr><th>rows</th><td id="rows">{_rows(entry)}</td></tr>'
        f'<tr><th>reads</th><td id="upstream">{upstream}</td></tr>'
        f'<tr><th>read by</th><td id="downstream">{downstream}</td></tr>'
        f"<tr><th>file</th><td><code>transforms/{escape(entry.layer)}/{escape(entry.name)}.sql"
        f"</code>, docs in <code>transforms/{escape(entry.layer)}/_models.toml</code></td></tr>"
        "</table>"
        + _state(catalog, "../")
        + '<h2>Columns</h2><table id="columns"><thead><tr><th>column</th><th>type</th>'
        "<th>description</th></tr></thead><tbody>"
        + "".join(columns)
        + "</tbody></table>"
        + f'<h2>Checks</h2><ul id="checks">{checks or "<li>none</li>"}</ul>'
        + f'<h2>SQL</h2><pre id="sql">{escape(entry.sql)}</pre>'
        + f'<h2>Lineage</h2><div id="lineage-box">{lineage_svg(catalog, "../")}</div>'
    )
    return _page(entry.table, body, entry.table)


def write_site(catalog: Catalog, out: Path) -> Path:
    """Write the site into `out` (replacing an older one); return the index page."""
    catalog.generated_at = catalog.generated_at or datetime.now(UTC)
    if (out / "models").exists():
        shutil.rmtree(out / "models")
    (out / "models").mkdir(parents=True)
    for entry in catalog.models.values():
        (out / "models" / f"{entry.table}.html").write_text(model_page(catalog, entry))
    index = out / "index.html"
    index.write_text(index_page(catalog))
    return index
