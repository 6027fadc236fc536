"""What importing SmolLM2-135M-Instruct costs: each step of a first import, then a second import
with its hash remembered, and one that has to read the file again.

Run by hand: `python -m bench.model_import [--runs 1]`. Each run imports into a fresh temporary
cache (writes 538 MB). Prints a markdown table for docs/models.md.
"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from bot.content_hash import HASHES
from bot.model_import import import_base

BASE = "smollm2-135m-instruct"


def timed_import(cache_dir: Path) -> tuple[float, dict[str, float], bool]:
    started = time.perf_counter()
    imported = import_base(BASE, cache_dir=cache_dir)
    return time.perf_counter() - started, imported.seconds, imported.cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="First imports to time.")
    args = parser.parse_args()
    rows: dict[str, list[float]] = {}
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as scratch:
            cache = Path(scratch) / "cache"
            total, steps, _ = timed_import(cache)
            for step, seconds in steps.items():
                rows.setdefault(f"first import: {step}", []).append(seconds)
            rows.setdefault("first import: total", []).append(total)
            total, _, cached = timed_import(cache)
            assert cached, "the second import should come from the cache"
            rows.setdefault("second import, hash remembered", []).append(total)
            (cache / HASHES).unlink()
            total, _, cached = timed_import(cache)
            assert cached
            rows.setdefault("second import, file hashed again", []).append(total)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, {args.runs} run(s)\n")
    print("| step | seconds (median) |")
    print("|---|---|")
    for step, values in rows.items():
        print(f"| {step} | {statistics.median(values):.2f} |")


if __name__ == "__main__":
    main()
