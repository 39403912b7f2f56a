"""What a job declares it needs to run (CPUs, GPUs, memory), and whether a cluster can give it.

Every job body takes ``cpus`` (default 1), ``gpus`` (default 0) and ``memory_mb`` (default: no
reservation). The local backend runs one job per worker process and ignores them; the Ray
backend (``ray_backend``) asks Ray for exactly these, so the job starts on a node that has them.
A job asking for more than the whole cluster has would wait forever: ``check_fits`` refuses it
at submission (a 422 naming the field), since a Ray cluster started by hand does not grow.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from pydantic import BaseModel, Field

from trainforge.config import Number, WholeNumber
from trainforge.errors import ResourcesExceedCluster

MAX_CPUS, MAX_GPUS = 1024, 256  # past any one job's share of a real cluster: a typo, not a need
MAX_MEMORY_MB = 1 << 24  # 16 TiB


class JobResources(BaseModel, frozen=True, extra="forbid"):
    """The resources fields every job body has (a base of each body)."""

    cpus: Number = Field(default=1.0, gt=0, le=MAX_CPUS,
                         description="CPUs the job reserves on a Ray cluster (local workers "
                                     "ignore it)")
    gpus: Number = Field(default=0.0, ge=0, le=MAX_GPUS,
                         description="GPUs the job reserves on a Ray cluster")
    memory_mb: WholeNumber | None = Field(default=None, gt=0, le=MAX_MEMORY_MB,
                                          description="memory (MB) the job reserves on a Ray "
                                                      "cluster (default: none reserved)")

    def declared(self) -> dict[str, Any]:
        """The three fields as a job's config keeps them."""
        return {"cpus": self.cpus, "gpus": self.gpus, "memory_mb": self.memory_mb}


class ClusterTotals(NamedTuple):
    """What a cluster has in all, over its live nodes."""

    cpus: float
    gpus: float
    memory_mb: float


def resources_of(config: dict[str, Any]) -> JobResources:
    """The resources a queued job declared; the defaults for a job queued before they existed."""
    return JobResources(**config.get("resources", {}))


def check_fits(resources: JobResources, totals: ClusterTotals) -> None:
    """ResourcesExceedCluster (422) when ``resources`` asks for more than ``totals``; a train
    job's ``workers`` and ``search_workers`` count one CPU each."""
    asked = [("cpus", resources.cpus, totals.cpus, "CPUs"),
             ("gpus", resources.gpus, totals.gpus, "GPUs"),
             ("memory_mb", resources.memory_mb or 0, totals.memory_mb, "MB of memory")]
    # a train job's data-parallel workers and parallel trials are Ray tasks or actors of
    # one CPU each, beside the job's own task: more of them than the cluster's CPUs never start
    for field in ("workers", "search_workers"):
        asked.append((field, float(getattr(resources, field, 1)), totals.cpus,
                      "CPUs (one per worker)"))
    for field, wanted, total, unit in asked:
        if wanted > total:
            raise ResourcesExceedCluster(field, wanted, total, unit)
