"""Pipelines data of the world: build definitions, builds and their timelines, classic releases."""
