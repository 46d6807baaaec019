"""The git API area: routes and response bodies."""
