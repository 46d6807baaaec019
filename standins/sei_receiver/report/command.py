"""``satellite receiver report --data-dir DIR [--json] [--html FILE]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["report_main"]


def report_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="satellite receiver report",
                                     description="the metrics of docs/metrics.md from what the receiver stored")
    parser.add_argument("--data-dir", type=Path, default=Path("receiver-data"), help="the receiver's --data-dir")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--html", type=Path, metavar="FILE", help="write the report as one self-contained HTML page (the table is then not printed)")
    args = parser.parse_args(argv)

    from standins.sei_receiver.report.build import build_report
    from standins.sei_receiver.report.text import render_text

    try:
        report = build_report(args.data_dir)
    except FileNotFoundError as exc:
        print(f"receiver report: {exc}", file=sys.stderr)
        return 2
    document = report.to_json()
    if args.html:
        try:
            from standins.sei_receiver.report.html import render_html
        except ImportError as exc:
            print(f"receiver report: the HTML page is not available yet ({exc})", file=sys.stderr)
            return 2
        args.html.write_text(render_html(document), encoding="utf-8")
    if args.json:
        print(json.dumps(document, indent=2))
    elif args.html:
        print(f"receiver report: wrote {args.html}", file=sys.stderr)
    else:
        print(render_text(report), end="")
    return 0
