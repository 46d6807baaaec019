"""Boards data of the world: work items with revision histories, links, comments; process; area and iteration trees."""
