import uuid
from types import SimpleNamespace

import pytest

from satellite.sync.sharding import ShardAssignment, ordinal_from_hostname

C = "https://tfs.example/tfs/DefaultCollection"


@pytest.mark.parametrize("name, ordinal", [("sei-satellite-2", 2), ("sei-satellite-10.svc.local", 10), ("laptop", None), ("x-1a", None)])
def test_ordinal_from_hostname(name, ordinal):
    assert ordinal_from_hostname(name) == ordinal


def test_every_project_belongs_to_exactly_one_shard_and_shares_are_balanced():
    projects = [str(uuid.UUID(int=n)) for n in range(300)]
    shards = [ShardAssignment(i, 3) for i in range(3)]
    owners = [[s.index for s in shards if s.owns_project(C, p)] for p in projects]
    assert all(len(o) == 1 for o in owners)
    sizes = [sum(1 for o in owners if o == [i]) for i in range(3)]
    assert min(sizes) > 60  # roughly a third each
    assert sum(s.owns_collection(C) for s in shards) == 1


def test_index_comes_from_the_host_name_and_must_fit():
    assert ShardAssignment.from_settings(SimpleNamespace(index=None, count=3), "sei-satellite-2") == ShardAssignment(2, 3)
    assert ShardAssignment.from_settings(SimpleNamespace(index=1, count=3), "sei-satellite-2") == ShardAssignment(1, 3)
    assert ShardAssignment.from_settings(SimpleNamespace(index=None, count=1), "laptop") == ShardAssignment(0, 1)
    with pytest.raises(ValueError, match="shard.count"):
        ShardAssignment.from_settings(SimpleNamespace(index=None, count=2), "sei-satellite-5")
