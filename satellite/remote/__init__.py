"""SEI-driven commands over the heartbeat (ingest protocol v1.1): outbound only, signed by SEI,
each run at most once and its outcome reported in the next heartbeat (docs/remote-commands.md).

    commands.py  the commands as typed frozen dataclasses, parsed from a verified payload
    verify.py    the signed envelope: canonical encoding, Ed25519 verification, signing (SEI's side)
    executor.py  what each command does to this satellite (I/O)
    bundle_upload.py  upload_support_bundle: the support bundle sealed and sent like a batch
    channel.py   heartbeat answer -> verify -> claim once -> execute -> outcome to report
"""
