"""Keep dlt's working folder in step with the warehouse, which is the source of truth.

dlt keeps which files are loaded (its pipeline state) twice: in its working folder beside the
warehouse and in `raw._dlt_pipeline_state`. `Pipeline.sync_destination()` takes the
warehouse's state only when it has a higher `_state_version` than the local one, and only when
the warehouse exists; a warehouse that was deleted, restored from an older backup or swapped
for another one has a lower or unrelated version, and dlt then trusts the working folder: the
run reads nothing, or loads a pending package meant for another warehouse. dlt offers no check
for this (state versions are counters, not a lineage), so the check is ours, on dlt's own
bookkeeping: load ids.

The rule: the working folder is in step with the warehouse when the newest load it completed is
in the warehouse's `_dlt_loads`, and the warehouse's newest load is one the working folder knows
(completed, or pending: a run killed after DuckDB committed a load but before dlt noted it).
Otherwise the working folder is dropped, pending packages included (their data and state were
extracted against another warehouse state), and dlt restores state and schemas from the
warehouse. A pending package of this very warehouse (a run killed after extract) passes the
rule, so it is still finished by the next run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb
from dlt.pipeline.pipeline import Pipeline

from pipelines import settings as s
from pipelines.warehouse.connection import read_existing, sql_literal
from pipelines.warehouse.location import Warehouse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkingFolderLoads:
    """The loads dlt's working folder knows: completed (the newest few, see housekeeping) and
    still pending (extracted or normalized, not loaded)."""

    completed: list[str]
    pending: list[str]

    @property
    def newest_completed(self) -> str | None:
        """The newest load this working folder saw complete (load ids sort by time)."""
        return max(self.completed, default=None)

    def knows(self, load_id: str) -> bool:
        """Whether `load_id` is one of this working folder's packages."""
        return load_id in self.completed or load_id in self.pending


@dataclass(frozen=True)
class WarehouseLoads:
    """What the warehouse holds: its newest completed load, and whether it holds `wanted`."""

    exists: bool
    newest: str | None = None
    holds_wanted: bool = False


def working_folder_loads(pipeline: Pipeline) -> WorkingFolderLoads:
    """Load ids of the packages in the working folder (all lists are empty when it is new)."""
    pending = pipeline.list_extracted_load_packages() + pipeline.list_normalized_load_packages()
    completed = [  # an aborted package (a job failed for good) was never committed to `_dlt_loads`
        load_id
        for load_id in pipeline.list_completed_load_packages()
        if pipeline.get_load_package_info(load_id).state != "aborted"
    ]
    return WorkingFolderLoads(completed, list(pending))


def warehouse_loads(warehouse: Warehouse, wanted: str | None) -> WarehouseLoads:
    """The warehouse's newest completed load (`_dlt_loads`, status 0) and whether it holds
    `wanted`; the file (or a lake's SQLite catalog) is not created when it is missing.

    Read on a connection of our own, with no query parameter: dlt's sql client binds its
    settings as parameters, and DuckDB imports pandas (~0.4 s of a no-op run) to bind one."""
    if not warehouse.exists():
        return WarehouseLoads(exists=False)
    with read_existing(warehouse) as connection:
        if connection is None:  # a PostgreSQL catalog in which no run created the lake yet
            return WarehouseLoads(exists=True)
        try:
            newest, holds = connection.execute(
                f"select max(load_id), count(*) filter (where load_id = {sql_literal(wanted or '')})"
                f" > 0 from {s.RAW_DATASET}._dlt_loads where status = 0"
            ).fetchall()[0]
        except duckdb.CatalogException:  # no raw dataset or no `_dlt_loads` table yet
            return WarehouseLoads(exists=True)
    return WarehouseLoads(exists=True, newest=newest, holds_wanted=bool(holds))


def mismatch(local: WorkingFolderLoads, warehouse: WarehouseLoads) -> str | None:
    """Why the working folder does not describe the warehouse, or None when it does."""
    ours = local.newest_completed
    if ours is not None and not warehouse.exists:
        return "is missing"
    if ours is not None and warehouse.newest is None:
        return "holds no loads"
    if ours is not None and not warehouse.holds_wanted:
        if warehouse.newest is not None and warehouse.newest in local.completed:
            return f"is older than the working folder (newest load {warehouse.newest}, not {ours})"
        return f"is not the one the working folder loaded (it lacks load {ours})"
    if ours is None and not local.pending:
        return None  # a new working folder: dlt's sync takes the warehouse's state as it is
    if warehouse.newest is not None and not local.knows(warehouse.newest):
        return f"has loads the working folder does not know (newest {warehouse.newest})"
    return None


def attach_to_warehouse(pipeline: Pipeline, location: Warehouse) -> str | None:
    """Before extract: make the working folder describe the warehouse; return the reason when
    it had to be discarded (and log it as a warning), else None."""
    local = working_folder_loads(pipeline)
    warehouse = warehouse_loads(location, local.newest_completed)
    reason = mismatch(local, warehouse)
    if reason is not None:
        pending = f", {len(local.pending)} pending load(s) included" if local.pending else ""
        taken = (
            "state taken from the warehouse"
            if warehouse.newest
            else "every file of the source will be read"
        )
        log.warning(
            "warehouse %s %s: discarded dlt's working folder %s%s; %s",
            location.display,
            reason,
            pipeline.working_dir,
            pending,
            taken,
        )
        pipeline.drop()  # dlt's own reset: state, schemas and every package of the folder
    in_step = reason is None and not local.pending and warehouse.newest == local.newest_completed
    if warehouse.exists and not (in_step and warehouse.newest is not None):
        # restores state and schemas when the warehouse's are newer (always, after a drop);
        # not needed when the warehouse's newest load is the one this folder completed last
        pipeline.sync_destination()
    return None if reason is None else f"warehouse {reason}"
