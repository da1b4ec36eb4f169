"""Deterministic generator of archived Pexip Engage webhook deliveries (see `devtools.generate`).

Modules: `timeutil` (millisecond timestamps), `catalog` (offices, subjects, employees...),
`lifecycle` (request plans: arrivals, status paths, timings), `payloads` (event JSON),
`corrupt` (corrupt record variants), `archive` (file shapes and writing), `stats`
(manifest of truths) and `engine` (the streaming loop tying them together).
"""
