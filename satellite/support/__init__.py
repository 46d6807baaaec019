"""``satellite support-bundle``: one archive with what support needs to see, and never a secret.

    from satellite.support import build_bundle
    data = build_bundle(config)   # tar.gz bytes; also SEI's upload_support_bundle command

Layout: ``redaction`` (secrets as references, the scrub), ``archive`` (tar.gz), ``assembly``
(parts -> manifest + members; pure), ``sections`` (gathering each part: the I/O), ``bundle``
(``build_bundle`` / ``write_bundle``), ``command`` (the CLI).
"""

from satellite.support.bundle import DEFAULT_LOG_LINES, build_bundle, write_bundle

__all__ = ["DEFAULT_LOG_LINES", "build_bundle", "write_bundle"]
