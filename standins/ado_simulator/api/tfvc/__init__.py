"""The tfvc API area: routes and response bodies."""
