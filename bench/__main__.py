"""Run the benchmarks: ``python -m bench [--only NAME] [--scale S] [--out report.md]``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

import bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", help="run only this benchmark module")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the data sizes")
    parser.add_argument("--out", type=Path, help="write the Markdown report here")
    args = parser.parse_args(argv)
    names = [m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_")]
    if args.only:
        if args.only not in names:
            parser.error(f"no benchmark {args.only!r}; have {', '.join(names)}")
        names = [args.only]
    sections = []
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        if hasattr(module, "run"):
            print(f"# running bench.{name}", file=sys.stderr, flush=True)
            sections.append(module.run(args.scale))
    report = "\n\n".join(sections) + "\n"
    if args.out:
        args.out.write_text(report, "utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
