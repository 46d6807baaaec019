"""REST routes and response bodies, one package per API area."""
