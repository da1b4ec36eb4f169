"""Keep dlt's bookkeeping from growing with every scheduled run.

Own code, because dlt keeps both forever: the folder of every loaded package in its working
folder, and in `raw._dlt_pipeline_state` a full copy of the pipeline state for every load (here
the state lists every archive file read, ~30 bytes each). dlt only ever reads the newest ones.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from dlt.pipeline.pipeline import Pipeline

STATE_TABLE = "_dlt_pipeline_state"


def prune_loaded_packages(pipeline: Pipeline, keep: int) -> int:
    """Delete all but the newest `keep` loaded packages' folders; return how many went."""
    load_ids = pipeline.list_completed_load_packages()  # oldest first
    old = load_ids[:-keep] if keep else load_ids
    for load_id in old:
        shutil.rmtree(Path(pipeline.working_dir) / "load" / "loaded" / load_id, ignore_errors=True)
    return len(old)


def prune_state_history(pipeline: Pipeline, keep: int) -> int:
    """Delete this pipeline's stored states but those of its newest `keep` loads.

    dlt restores the state of the newest completed load (by load id), which is always kept.
    Counted, then deleted: a DuckLake table takes no `delete ... returning`."""
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name(STATE_TABLE)
        old = (
            f"from {table} where pipeline_name = %s and _dlt_load_id not in"
            f" (select _dlt_load_id from {table} where pipeline_name = %s"
            " order by _dlt_load_id desc limit %s)"
        )
        args = (pipeline.pipeline_name, pipeline.pipeline_name, max(keep, 1))
        count = client.execute_sql(f"select count(*) {old}", *args)[0][0]
        if count:
            client.execute_sql(f"delete {old}", *args)
    return int(count)
