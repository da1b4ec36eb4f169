"""The model catalog (`make docs`, `python -m pipelines.docs`): a static site under `data/docs/`.

`catalog.py` gathers what is known about each model (its docs, SQL, checks, lineage, and from
the warehouse when it exists: column types, row counts, newest event); `site.py` writes the
pages (inline CSS, JS and SVG: they open from disk, no server, no network).
"""
