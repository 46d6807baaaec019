"""Where the peak RSS of ``satellite sync --once`` comes from: one sync of a simulated world, with a
probe in the sync process that writes a line at each rise of its high-water mark.

    python benchmarks/memory_probe.py --scale large                # about 20 min; medium about 2
    python benchmarks/memory_probe.py --scale medium --out steps.txt
    MALLOC_MMAP_THRESHOLD_=32768 python benchmarks/memory_probe.py --scale large   # a malloc setting tried

Each line: seconds since start, ``VmHWM`` and ``VmRSS`` (MiB), the bytes the writers hold unsealed
(``PendingBudget``), glibc's ``mallinfo2`` (in use, free in the arenas, mapped on their own, MiB) and
Python's allocated blocks; under it, where the threads are (their innermost satellite frames). The
peak is measured as section 3 of satellite_bench.py measures it. The probe (a ``sitecustomize``
module on the sync's ``PYTHONPATH``) reads ``/proc/self/status`` every 20 ms; it costs a little CPU.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import satellite_bench as bench  # noqa: E402

PROBE = '''
import collections, ctypes, gc, os, sys, threading, time

if "sync" in sys.argv and "--once" in sys.argv:
    class _Info(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                   "fsmblks", "uordblks", "fordblks", "keepcost")]
    try:
        _libc = ctypes.CDLL("libc.so.6")
        _libc.mallinfo2.restype = _Info
    except (OSError, AttributeError):
        _libc = None
    _started = time.monotonic()

    def _unsealed_mib():
        """The bytes every ``PendingBudget`` alive holds (found, not hooked: no race with its creation)."""
        batching = sys.modules.get("satellite.sync.batching")
        if batching is None:
            return 0
        return sum(o.held for o in gc.get_objects() if isinstance(o, batching.PendingBudget)) >> 20

    def _status():
        found = {}
        with open("/proc/self/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmHWM", "VmRSS"):
                    found[key] = int(value.split()[0]) // 1024
        return found

    def _where():
        places = collections.Counter()
        for frame in sys._current_frames().values():
            names = []
            while frame is not None and len(names) < 3:
                path = frame.f_code.co_filename
                if "/satellite/" in path:
                    names.append(path.rsplit("/satellite/", 1)[1].removesuffix(".py") + ":" + frame.f_code.co_name)
                frame = frame.f_back
            places[" < ".join(names) or "-"] += 1
        return places

    def _probe():
        last = 0
        step = int(os.environ.get("MEMORY_PROBE_STEP_MIB", "1"))
        with open(os.environ["MEMORY_PROBE_OUT"], "w", buffering=1) as out:
            while True:
                time.sleep(0.02)
                now = _status()
                if now.get("VmHWM", 0) < last + step:
                    continue
                last = now["VmHWM"]
                line = f"t={time.monotonic() - _started:7.1f} hwm={last} rss={now.get('VmRSS')} pending={_unsealed_mib()}"
                if _libc is not None:
                    info = _libc.mallinfo2()
                    line += f" malloc_used={info.uordblks >> 20} malloc_free={info.fordblks >> 20} mapped={info.hblkhd >> 20}"
                out.write(f"{line} blocks={sys.getallocatedblocks()}\\n")
                for place, threads in _where().most_common(8):
                    out.write(f"    {threads:3d} {place}\\n")

    threading.Thread(target=_probe, name="memory-probe", daemon=True).start()
'''


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="medium", choices=("small", "medium", "large"))
    parser.add_argument("--out", type=Path, help="the step lines (default: a temporary file, printed)")
    parser.add_argument("--step-mib", type=int, default=1, help="a line at each rise of this many MiB")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="memory-probe-") as hook:
        Path(hook, "sitecustomize.py").write_text(PROBE)
        out = args.out or Path(hook, "steps.txt")
        os.environ["PYTHONPATH"] = os.pathsep.join([hook, str(bench.ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
        os.environ["MEMORY_PROBE_OUT"] = str(out.resolve())
        os.environ["MEMORY_PROBE_STEP_MIB"] = str(args.step_mib)
        with bench.workspace() as (work, keys, receiver, services):
            simulator = bench.start_simulator(args.scale, 0)
            services.append(simulator)
            measured = bench.peak_memory(work, simulator, receiver, keys, args.scale)
        if args.out is None:
            print(out.read_text(), end="")
    print(f"{args.scale}: peak {measured['peak_mib']:.0f} MiB, {measured['records']} records, {measured['wall']:.0f} s,"
          f" exit {measured['exit']}" + (f"; steps in {args.out}" if args.out else ""))
    return 0 if measured["exit"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
