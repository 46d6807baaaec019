"""The release API area: routes and response bodies."""
