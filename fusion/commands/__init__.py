"""Command implementations: plain functions that ``fusion.cli`` registers with typer."""
