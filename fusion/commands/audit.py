"""`fusion audit verify` and `fusion audit reset-checkpoint`: check the audit log's hash chain
against the checkpoint the service keeps in Neo4j, and restart the checkpoint after an
operator has dealt with a log that lost records."""

from __future__ import annotations

import asyncio
import getpass
from pathlib import Path

import typer

from fusion.auth.audit import AuditLog, audit_path, verify_audit_log
from fusion.auth.auditcheckpoint import (
    Checkpoint,
    checkpoint_key,
    read_checkpoint,
    reset_checkpoint,
)
from fusion.auth.auditfile import head_of
from fusion.config import Settings, load_settings
from fusion.db import connect
from fusion.errors import BadInput, DatabaseError

audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)

RESET_OUTCOME = "checkpoint-reset"


def _stored_checkpoint(settings: Settings, path: Path) -> Checkpoint | None:
    """The log's checkpoint in Neo4j (DatabaseError when Neo4j cannot be reached)."""
    with connect(settings) as driver:
        return read_checkpoint(driver, settings.neo4j_database, checkpoint_key(path))


@audit_app.command("verify")
def verify(
    anchor: str | None = typer.Option(
        None, "--anchor", help="A record hash noted earlier (e.g. a previous verify's head): "
        "also fail unless the chain still contains it, which detects records cut from the end."),
    no_checkpoint: bool = typer.Option(
        False, "--no-checkpoint", help="Check the file alone, without the checkpoint in Neo4j "
        "(then a log cut at its end, emptied or deleted still verifies)."),
) -> None:
    """Check every record's hash and link, and that the log still reaches its checkpoint."""
    settings = load_settings()
    path = audit_path(settings.home)
    checkpoint = None
    if not no_checkpoint:
        try:
            checkpoint = _stored_checkpoint(settings, path)
        except DatabaseError as err:
            if anchor is None:
                print(f"Cannot read the audit checkpoint: {err} Start Neo4j, or pass "
                      "--no-checkpoint (or --anchor) to check the file alone.")
                raise typer.Exit(2) from None
            print(f"Cannot read the audit checkpoint ({err}); checking against the anchor only.")
        else:
            print(_describe(checkpoint))
    result = verify_audit_log(path, anchor=anchor,
                              head=None if checkpoint is None else checkpoint.head)
    print(f"{path}: {result}")
    if not result.ok:
        raise typer.Exit(1)


def _describe(checkpoint: Checkpoint | None) -> str:
    if checkpoint is None:
        return "checkpoint: none in Neo4j for this log (the service has not written one yet)"
    reset = f", reset {checkpoint.resets} times" if checkpoint.resets else ""
    return (f"checkpoint: {checkpoint.head.count} records, head {checkpoint.head.hash}, "
            f"at {checkpoint.at}{reset}")


@audit_app.command("reset-checkpoint")
def reset(
    reason: str = typer.Option(..., "--reason", help="Why (incident or case number): recorded "
                               "in the log and on the checkpoint."),
) -> None:
    """After records were lost: record the reset in the log and restart the checkpoint there.

    The log's own chain must verify: move a broken log aside (keep it as evidence) first; a new
    log is then started. A service refusing appends resumes within a second or two.
    """
    if not reason.strip():
        raise BadInput("--reason must say why the checkpoint is reset.")
    settings = load_settings()
    path = audit_path(settings.home)
    result = verify_audit_log(path)
    if not result.ok:
        print(f"{path}: {result}\nThe chain itself is broken: move the file aside (keep it as "
              "evidence), then run this again to start a new log.")
        raise typer.Exit(1)
    with connect(settings) as driver:
        key = checkpoint_key(path)
        before = read_checkpoint(driver, settings.neo4j_database, key)
        by = getpass.getuser()
        asyncio.run(_append_reset(path, by, reason.strip(), before, result.records, result.head))
        head = head_of(path, path.stat().st_size)
        after = reset_checkpoint(driver, settings.neo4j_database, key, head, reason.strip(), by)
    print(f"{path}: checkpoint reset (reset {after.resets}) to {head.count} records, "
          f"head {head.hash}")


async def _append_reset(path: Path, by: str, reason: str, before: Checkpoint | None,
                        count: int, last: str) -> None:
    """Append the record of a checkpoint reset: what the checkpoint said, what the log holds."""
    log = AuditLog(path)
    try:
        lost = None if before is None else {"count": before.head.count, "hash": before.head.hash}
        await log.append(user=by, role=None, operation_name="reset-checkpoint", document=None,
                         variables={"checkpoint": lost, "log": {"count": count, "hash": last}},
                         purpose=reason, scope=None, outcome=RESET_OUTCOME, result_count=None)
    finally:
        await log.aclose()
