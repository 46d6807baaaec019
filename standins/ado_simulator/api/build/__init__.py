"""The build API area: routes and response bodies."""
