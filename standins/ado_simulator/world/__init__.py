"""The simulated world: its data model, deterministic generation, and advancing it in time."""
