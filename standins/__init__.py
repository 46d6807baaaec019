"""Stand-ins for the two ends of the wire, for demos, tests and benchmarks; never part of the agent.

- ``ado_simulator``: an Azure DevOps Server stand-in (a generated world served over HTTP like a
  2019/2020/2022/7.1 server).
- ``sei_receiver``: the reference SEI ingest endpoint (verifies, decrypts, stores records).
- ``loopback``: runs either on a loopback socket in a thread.
- ``demo``: simulator + satellite + receiver, one sync, a table of what arrived.

They import the product (``satellite``) where they must speak its formats; the product never
imports them (its CLI loads them only for the ``demo``, ``simulator`` and ``receiver`` commands).
Their server dependencies come with the ``standins`` extra.
"""
