"""What the unit tests share: a store in a fresh data dir and a sealer with throwaway keys."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from satellite.sealing.sealer import Sealer
from satellite.store import Store


@pytest.fixture
def store(tmp_path):
    """A store in ``tmp_path / "data"`` (a config written into ``tmp_path`` names that data dir)."""
    s = Store(tmp_path / "data")
    yield s
    s.close()


@pytest.fixture
def sealer() -> Sealer:
    return Sealer("sat-1", "acme", "rk-1", X25519PrivateKey.generate().public_key(), Ed25519PrivateKey.generate())
