"""The stream table of docs/streams.md, rendered from the declarations (a test keeps them equal)."""

from __future__ import annotations

from satellite.ado.versions import SERVER_NAMES
from satellite.streams import STREAMS

__all__ = ["render_stream_table"]


def render_stream_table() -> str:
    lines = [
        "| stream | record type | key | cursor | service | scope | from server |",
        "|---|---|---|---|---|---|---|",
    ]
    for stream in STREAMS:
        server = SERVER_NAMES[stream.min_version].replace("Azure DevOps Server ", "")
        lines.append(
            f"| `{stream.name}` | `{stream.record_type}` | `{stream.key_format}` | {stream.cursor.summary} | "
            f"{stream.service} | {stream.scope.value} | {server} |"
        )
    return "\n".join(lines) + "\n"


BEGIN, END = "<!-- streams:begin -->", "<!-- streams:end -->"


def update_document(text: str) -> str:
    """``text`` with the table between the markers replaced by the current one."""
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{render_stream_table()}{END}{tail}"


if __name__ == "__main__":  # python -m satellite.streams.catalog docs/streams.md
    import sys
    from pathlib import Path

    path = Path(sys.argv[1])
    path.write_text(update_document(path.read_text()))
