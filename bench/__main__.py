"""Run the benchmarks: ``python -m bench [--only NAME] [--scale S] [--out report.md]``.

Each module of this package with a ``run(scale) -> str`` function is one benchmark; it measures
Fusion and its baseline in the same run and returns a Markdown section. The report starts with
the machine it was measured on. A benchmark that fails is reported as failed, the others still
run, and the exit status is 1.

``--scale`` is the size of the whole run: 10 (the default) is the reference run the issues'
targets name (1M call records and 1M sightings loaded, 10M sightings for co-travel, 100k people
with 1M links for gangs, a 1M-node graph for paths, the service benchmarks on the demo scenario
(scale 0.2), growth up to the scenario at scale 3); each module gets ``scale / 10`` as its own
``run(scale)`` multiplier, so ``--scale 1`` is a quick tenth-size look.

A module that sets ``IN_FULL_RUN = False`` (a closer look that another module's figures already
cover) runs only when named with ``--only``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import shlex
import sys
import time
import traceback
from pathlib import Path

import bench
from bench._machine import machine_section

REFERENCE_SCALE = 10.0


def benchmark_names() -> list[str]:
    """Names of the benchmark modules, in run order (cheap ones first)."""
    return [m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", action="append",
                        help="run only this benchmark module (repeatable)")
    parser.add_argument("--scale", type=float, default=REFERENCE_SCALE,
                        help=f"size of the run; {REFERENCE_SCALE:g} is the reference run")
    parser.add_argument("--out", type=Path, help="write the Markdown report here")
    args = parser.parse_args(argv)
    names = benchmark_names()
    if args.only:
        unknown = [name for name in args.only if name not in names]
        if unknown:
            parser.error(f"no benchmark {', '.join(unknown)}; have {', '.join(names)}")
        names = [name for name in names if name in args.only]
    else:
        names = [name for name in names
                 if getattr(importlib.import_module(f"bench.{name}"), "IN_FULL_RUN", True)]
    command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    sections = ["# Fusion benchmark report", "", machine_section(command.strip())]
    failed = []
    began = time.perf_counter()
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        if not hasattr(module, "run"):
            continue
        print(f"# running bench.{name} (scale {args.scale:g})", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            section = module.run(args.scale / REFERENCE_SCALE)
        except Exception:  # noqa: BLE001 - one failed benchmark must not hide the others
            failed.append(name)
            section = f"## bench.{name}: FAILED\n\n```\n{traceback.format_exc()}```"
            traceback.print_exc()
        elapsed = time.perf_counter() - started
        sections.append(f"{section}\n\n_bench.{name} took {elapsed:.0f} s._")
        if args.out:  # keep a partial report if a later benchmark is interrupted
            args.out.write_text("\n\n".join(sections) + "\n", "utf-8")
    sections.append(f"_The whole run took {(time.perf_counter() - began) / 60:.1f} min._")
    report = "\n\n".join(sections) + "\n"
    if args.out:
        args.out.write_text(report, "utf-8")
    print(report)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
