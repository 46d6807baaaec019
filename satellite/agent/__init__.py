"""The long-running agent: scheduler, status, health and metrics endpoint, graceful shutdown."""
