"""The lineage graph as inline SVG: raw tables, then staging, intermediate and marts, left to
right; a layer whose models read each other gets one column per step. Every node links to its
page (raw tables to their entry on the index page)."""

from __future__ import annotations

from html import escape

from pipelines.docs.catalog import Catalog

NODE_HEIGHT = 22
GAP = 8
COLUMN_GAP = 60
CHAR_WIDTH = 6.7  # 11px monospace
TOP = 34  # room for the layer labels
LAYER_COLORS = {
    "raw": "#eceff1",
    "staging": "#e3f2fd",
    "intermediate": "#fff8e1",
    "marts": "#e8f5e9",
}


def _columns(catalog: Catalog) -> list[tuple[str, list[str]]]:
    """(layer, nodes) per column, nodes ordered to keep edges short."""
    columns: list[tuple[str, list[str]]] = [
        ("raw", [f"raw.{t}" for t in sorted(catalog.raw_tables)])
    ]
    level: dict[str, int] = {}
    for table, entry in catalog.models.items():  # in build order: upstream first
        same_layer = [u for u in entry.upstream if u.split(".")[0] == entry.layer]
        level[table] = 1 + max((level[u] for u in same_layer), default=-1)
    for layer in ("staging", "intermediate", "marts"):
        in_layer = [t for t, e in catalog.models.items() if e.layer == layer]
        for step in range(max((level[t] for t in in_layer), default=-1) + 1):
            columns.append((layer, [t for t in in_layer if level[t] == step]))
    # order each column by the mean position of what it reads (barycenter), left to right
    position = {node: i for i, node in enumerate(columns[0][1])}
    for _, nodes in columns[1:]:

        def weight(node: str) -> float:
            ups = [position[u] for u in catalog.models[node].upstream if u in position]
            return sum(ups) / len(ups) if ups else 0.0

        nodes.sort(key=lambda n: (weight(n), n))
        scale = len(columns[0][1]) / max(len(nodes), 1)
        for i, node in enumerate(nodes):
            position[node] = i * scale
    return columns


def _label(node: str) -> str:
    """A model's name; a raw child table without its root table's name (`…__answers`)."""
    name = node.split(".", 1)[1]
    root, sep, rest = name.partition("__")
    return f"…__{rest}" if node.startswith("raw.") and sep else name


def lineage_svg(catalog: Catalog, link_prefix: str = "") -> str:
    """The whole graph; `link_prefix` leads from the page that embeds it to the site root."""
    columns = _columns(catalog)
    widths = [max(len(_label(n)) for n in nodes) * CHAR_WIDTH + 16 for _, nodes in columns]
    tallest = max(len(nodes) for _, nodes in columns)
    height = TOP + tallest * (NODE_HEIGHT + GAP) + GAP
    boxes: dict[str, tuple[float, float, float]] = {}  # node -> x, y, width
    x = 10.0
    parts = []
    bands: dict[str, list[float]] = {}
    for (layer, nodes), width in zip(columns, widths, strict=True):
        offset = (tallest - len(nodes)) * (NODE_HEIGHT + GAP) / 2
        for i, node in enumerate(nodes):
            boxes[node] = (x, TOP + offset + i * (NODE_HEIGHT + GAP), width)
        band = bands.setdefault(layer, [x, x + width])
        band[1] = x + width
        x += width + COLUMN_GAP
    total_width = x - COLUMN_GAP + 10
    for layer, (left, right) in bands.items():
        parts.append(
            f'<rect class="band" x="{left - 6:.0f}" y="4" width="{right - left + 12:.0f}" '
            f'height="{height - 8:.0f}" rx="6" fill="{LAYER_COLORS[layer]}"/>'
            f'<text class="layer" x="{left:.0f}" y="22">{layer}</text>'
        )
    for table, entry in catalog.models.items():
        tx, ty, _ = boxes[table]
        for upstream in entry.upstream:
            ux, uy, uw = boxes[upstream]
            x1, y1, x2, y2 = ux + uw, uy + NODE_HEIGHT / 2, tx, ty + NODE_HEIGHT / 2
            mid = (x1 + x2) / 2
            parts.append(
                f'<path class="edge" data-from="{escape(upstream)}" data-to="{escape(table)}" '
                f'd="M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} {mid:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"/>'
            )
    for node, (nx, ny, width) in boxes.items():
        if node.startswith("raw."):
            href = f"{link_prefix}index.html#raw-{_label(node)}"
            tip = "raw table (loaded by dlt)"
        else:
            href = f"{link_prefix}models/{node}.html"
            doc = catalog.models[node].doc
            tip = doc.description if doc else node
        parts.append(
            f'<a class="node" href="{escape(href)}" data-node="{escape(node)}">'
            f"<title>{escape(node)}: {escape(tip)}</title>"
            f'<rect x="{nx:.0f}" y="{ny:.0f}" width="{width:.0f}" height="{NODE_HEIGHT}" rx="4"/>'
            f'<text x="{nx + 8:.0f}" y="{ny + 15:.0f}">{escape(_label(node))}</text></a>'
        )
    return (
        f'<svg id="lineage" xmlns="http://www.w3.org/2000/svg" width="{total_width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {total_width:.0f} {height:.0f}" role="img" '
        'aria-label="lineage from raw tables through staging and intermediate to marts">'
        + "".join(parts)
        + "</svg>"
    )
