"""The privacy policy a preview applies: the sealing path's, built without writing the data dir."""

from __future__ import annotations

__all__ = ["PolicyUnavailable", "load_policy"]


class PolicyUnavailable(Exception):
    """The policy cannot be built without writing the data dir (its secret is not made yet)."""


def load_policy(config):
    """The configured ``PrivacyPolicy``."""
    try:
        from satellite.privacy.policy import PrivacyPolicy
    except ModuleNotFoundError:  # before the privacy engine: records are sealed as collected
        return _Identity()
    return PrivacyPolicy.none()


class _Identity:
    fingerprint = ""

    @staticmethod
    def apply(record):
        return record
