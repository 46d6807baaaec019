"""The satellite's configuration: YAML file -> validated, typed, frozen ``Config``.

    config = load_config("satellite.yml")   # raises ConfigError listing every problem
    schema = config_json_schema()           # JSON Schema for editors
"""

from satellite.config.loader import ConfigProblem, load_config, reload_config
from satellite.config.model import (
    SERVICES,
    Backfill,
    BatchLimits,
    Config,
    Delivery,
    EncryptionSettings,
    Integration,
    Limits,
    PageSizes,
    ProjectFilter,
    SatelliteSettings,
    Schedule,
    Shard,
    TlsSettings,
    config_json_schema,
)

__all__ = [
    "reload_config",
    "load_config",
    "config_json_schema",
    "Config",
    "Delivery",
    "SatelliteSettings",
    "EncryptionSettings",
    "TlsSettings",
    "Integration",
    "ProjectFilter",
    "Schedule",
    "Shard",
    "Backfill",
    "Limits",
    "PageSizes",
    "BatchLimits",
    "ConfigProblem",
    "SERVICES",
]
