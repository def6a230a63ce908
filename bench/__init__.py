"""Benchmarks: measured on the project's machine, never in the test suite.

``python -m bench [--only NAME] [--scale S] [--out report.md]`` runs every module here that
defines ``run(scale: float) -> str`` (a Markdown section) and prints or saves the report.
"""
