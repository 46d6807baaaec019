"""Git data of the world: repository histories (commits, pushes, refs) and pull requests."""
