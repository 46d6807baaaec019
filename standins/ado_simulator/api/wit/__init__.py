"""The wit API area: routes and response bodies."""
