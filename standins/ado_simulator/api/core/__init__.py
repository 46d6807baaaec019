"""The core API area: routes and response bodies."""
