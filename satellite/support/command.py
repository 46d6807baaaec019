"""``satellite support-bundle -c FILE [--out FILE.tar.gz]``: write the bundle, say where and what is in it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from satellite.support.archive import unpack
from satellite.support.bundle import write_bundle

__all__ = ["support_bundle"]


def support_bundle(config: Any, out: Path | None = None, **options: Any) -> int:
    """Write the bundle (``options``: those of ``build_bundle``); exit 0, also when a part could not be
    gathered (the manifest and stderr say which)."""
    path = write_bundle(config, out, **options)
    members = unpack(path.read_bytes())
    manifest = json.loads(next(data for name, data in members.items() if name.endswith("/manifest.json")))
    print(f"support bundle: {path} ({path.stat().st_size} bytes, {len(manifest['members']) + 1} files); it holds no"
          " secret, no record and no batch content: send it to SEI support")
    for name, error in manifest["errors"].items():
        print(f"  {name}: not gathered: {error}", file=sys.stderr)
    return 0
