"""``reload_config``: the file read again with the environment it was first loaded with."""

from __future__ import annotations

from satellite.config import load_config, reload_config
from satellite.sei import ApiKeySource

from .test_config import CANARY, env, minimal, pems, write  # noqa: F401  (env and pems are fixtures)


def test_reload_keeps_the_given_environment_and_sees_a_rotated_variable(tmp_path, env):
    path = write(tmp_path, minimal())
    config = load_config(path, env)
    env["API_KEY"] = "api-key-rotated"  # the mapping the config was loaded with, changed since
    assert reload_config(config).satellite.api_key.reveal() == "api-key-rotated"
    assert CANARY not in repr(config) and CANARY not in str(config.model_dump())  # the mapping is never shown


def test_api_key_source_of_a_config_loaded_with_its_own_environment_reads_it_anew(tmp_path, env):
    """A config loaded with an ``env`` mapping (the demo, tests) re-reads its key from that mapping,
    not from ``os.environ`` (which does not hold it)."""
    config = load_config(write(tmp_path, minimal()), env)
    source = ApiKeySource.from_config(config)
    env["API_KEY"] = "api-key-next"
    assert source.refresh().reveal() == "api-key-next"
