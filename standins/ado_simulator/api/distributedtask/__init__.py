"""Distributed task area: YAML environments and their deployment records."""
