"""SEI Ingestion Satellite: an on-prem agent for Azure DevOps Server."""

__version__ = "0.1.0"
__all__ = ["__version__"]
