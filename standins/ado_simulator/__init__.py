"""The Azure DevOps Server simulator (see docs/simulator.md).

- ``world/``: the world model and its generation (git histories, pull requests, builds,
  releases, work items, teams, TFVC), and how it advances in time.
- ``api/<area>/``: routes and response bodies per REST API area (core, git, build, release,
  wit, work, tfvc), as the on-prem specs write them.
- ``wire/``: wire behaviour: api-version rules and server profiles, envelopes and error bodies,
  routing, fault injection.
- ``app``: the ASGI app tying them together; ``command``: ``satellite simulator``.
"""
