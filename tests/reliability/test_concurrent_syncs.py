"""Two satellites on one data dir (an overlapping cron run, two pods on one volume): the second
refuses at once (exit 2, naming the holder) and nothing is delivered twice (issue 15, item 4)."""

from __future__ import annotations

import pytest

from standins.ado_simulator.world.world import generate_world

from tests.support import assert_mirrors_truth, wait_until

from .conftest import assert_sent_once, make_receiver, write_config

pytestmark = pytest.mark.reliability


def test_a_second_sync_on_the_same_data_dir_refuses_and_nothing_is_sent_twice(tmp_path, key_files, receivers, simulators,
                                                                             processes):
    world = generate_world(seed=5, scale="tiny")
    simulator = simulators(world)
    receiver = make_receiver(tmp_path / "receiver", key_files).start()
    receivers.append(receiver)
    config = write_config(tmp_path / "satellite", ado_url=simulator.collection_url, endpoint=receiver.url, key_files=key_files)
    door = receiver.door
    door.gate.clear()  # uploads wait at the door: the first run is surely still running when the second starts
    first = processes.start(config, tmp_path / "first")
    wait_until(lambda: door.attempts, 60, "the first run's first upload")
    second = processes.start(config, tmp_path / "second")
    code = second.wait(60)
    assert first.alive(), "the first run ended before the second started: the test proves nothing"
    assert code == 2, second.stderr()
    assert "in use by pid" in second.stderr() and str(first.proc.pid) in second.stderr()
    assert "Traceback" not in second.stderr()
    door.gate.set()
    assert first.wait(120) == 0, first.stderr()[-3000:]
    third = processes.start(config, tmp_path / "third")  # the lock is free again once the first is done
    assert third.wait(120) == 0, third.stderr()[-3000:]
    assert_sent_once(receiver)
    assert_mirrors_truth(receiver, world)
