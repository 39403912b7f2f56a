"""What a job may ask of a Ray cluster, checked before it is queued (no Ray needed)."""

from __future__ import annotations

import pytest

from trainforge.errors import ResourcesExceedCluster
from trainforge.server.job_requests import PredictJob, TrainJob
from trainforge.server.job_resources import ClusterTotals, check_fits

TWO_CPUS = ClusterTotals(cpus=2.0, gpus=0.0, memory_mb=8192.0)


@pytest.mark.parametrize("field", ["workers", "search_workers"])
def test_a_train_job_with_more_parallel_workers_than_the_cluster_has_cpus_is_refused_naming_them(
        field):
    job = TrainJob(kind="train", dataset="d", target="class", **{field: 3})
    with pytest.raises(ResourcesExceedCluster) as refused:
        check_fits(job, TWO_CPUS)
    assert str(refused.value).startswith(f"{field}: the job asks for 3 CPUs (one per worker) "
                                         "but the Ray cluster has 2 in all")


def test_jobs_within_the_cluster_pass_whatever_their_kind():
    check_fits(TrainJob(kind="train", dataset="d", target="class", workers=2,
                        search_workers=2), TWO_CPUS)
    check_fits(PredictJob(kind="predict", model="m", dataset="d", cpus=2), TWO_CPUS)
