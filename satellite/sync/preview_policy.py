"""The privacy policy a preview applies: the sealing path's, built without writing the data dir."""

from __future__ import annotations

from satellite.privacy.policy import PrivacyPolicy, SecretMissing

__all__ = ["PolicyUnavailable", "load_policy"]


class PolicyUnavailable(Exception):
    """The policy cannot be built without writing the data dir (its secret is not made yet)."""


def load_policy(config, integration) -> PrivacyPolicy:
    """``integration``'s policy, as ``sync`` builds it, but never making the secret: a policy that
    needs ``<data_dir>/privacy.key`` before the agent made it is ``PolicyUnavailable``."""
    try:
        return PrivacyPolicy.from_config(config, integration, create_secret=False)
    except SecretMissing as exc:
        raise PolicyUnavailable(f"the privacy policy needs its secret: {exc}") from None
