"""One local Ray cluster for the whole session, started only if a Ray-served test runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mara.serve.ray_cluster import LocalRayCluster


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRayCluster]:
    """A one-node Ray cluster on 127.0.0.1: 2 CPUs, no dashboard, a 100 MiB object store."""
    with LocalRayCluster(tmp_path_factory.mktemp("ray"), num_cpus=2) as cluster:
        yield cluster
