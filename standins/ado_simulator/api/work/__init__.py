"""The work API area: routes and response bodies."""
