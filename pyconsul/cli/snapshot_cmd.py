"""`consul snapshot save|restore|inspect` over GET/PUT /v1/snapshot."""

from __future__ import annotations

import os

from pyconsul.cli.common import connect, new_flags
from pyconsul.cli.flags import FlagSet
from pyconsul.cli.http import ConsulError
from pyconsul.cli.output import error, info, tabwrite
from pyconsul.cli.registry import register, register_group
from pyconsul.snapshot_archive import SnapshotError, is_archive, metadata, read_archive, verify

SNAPSHOT_HELP = """
Usage: consul snapshot <subcommand> [options] [args]

  This command has subcommands for saving, restoring, and inspecting the state
  of the Consul servers for disaster recovery. These are atomic, point-in-time
  snapshots which include key/value entries, service catalog, prepared queries,
  sessions, and ACLs.

  If ACLs are enabled, a management token must be supplied in order to perform
  snapshot operations.

  Create a snapshot:

      $ consul snapshot save backup.snap

  Restore a snapshot:

      $ consul snapshot restore backup.snap

  Inspect a snapshot:

      $ consul snapshot inspect backup.snap

  For more examples, ask for subcommand help or view the documentation.
"""

SAVE_HELP = """
Usage: consul snapshot save [options] FILE

  Retrieves an atomic, point-in-time snapshot of the state of the Consul servers
  which includes key/value entries, service catalog, prepared queries, sessions,
  and ACLs.

  If ACLs are enabled, a management token must be supplied in order to perform
  snapshot operations.

  To create a snapshot from the leader server and save it to "backup.snap":

    $ consul snapshot save backup.snap

  To create a potentially stale snapshot from any available server (useful if no
  leader is available):

    $ consul snapshot save -stale backup.snap

  For a full list of options and examples, please see the Consul documentation.
"""

RESTORE_HELP = """
Usage: consul snapshot restore [options] FILE

  Restores an atomic, point-in-time snapshot of the state of the Consul servers
  which includes key/value entries, service catalog, prepared queries, sessions,
  and ACLs.

  Restores involve a potentially dangerous low-level Raft operation that is not
  designed to handle server failures during a restore. This command is primarily
  intended to be used when recovering from a disaster, restoring into a fresh
  cluster of Consul servers.

  If ACLs are enabled, a management token must be supplied in order to perform
  snapshot operations.

  To restore a snapshot from the file "backup.snap":

    $ consul snapshot restore backup.snap

  For a full list of options and examples, please see the Consul documentation.
"""

INSPECT_HELP = """
Usage: consul snapshot inspect [options] FILE

  Displays information about a snapshot file on disk.

  To inspect the file "backup.snap":

    $ consul snapshot inspect backup.snap

  For a full list of options and examples, please see the Consul documentation.
"""


def _one_file(args: list[str]) -> str | None:
    if not args:
        error("Missing FILE argument")
        return None
    if len(args) > 1:
        error(f"Too many arguments (expected 1, got {len(args)})")
        return None
    return args[0]


def save(argv: list[str]) -> int:
    fs = new_flags(SAVE_HELP)
    opts = fs.parse(argv)
    path = _one_file(opts.args)
    if path is None:
        return 1
    client = connect(opts)
    try:
        resp = client.request("GET", "/v1/snapshot")
    except ConsulError as exc:
        error(f"Error saving snapshot: {exc}")
        return 1
    unverified = path + ".unverified"
    try:
        fd = os.open(unverified, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(resp.body)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        error(f"Error writing unverified snapshot file: {exc}")
        return 1
    try:
        try:
            if is_archive(resp.body):
                verify(resp.body)
            elif not resp.body:
                raise SnapshotError("snapshot is empty")
            # else: an agent that serves its state without Consul's archive wrapper; nothing
            # to check the bytes against, so they are kept as they came.
        except SnapshotError as exc:
            error(f"Error verifying snapshot file: {exc}")
            return 1
        try:
            os.replace(unverified, path)
        except OSError as exc:
            error(f'Error renaming "{unverified}" to "{path}": {exc}')
            return 1
    finally:
        if os.path.exists(unverified):
            os.unlink(unverified)
    info(f"Saved and verified snapshot to index {resp.index}")
    return 0


def restore(argv: list[str]) -> int:
    fs = new_flags(RESTORE_HELP)
    opts = fs.parse(argv)
    path = _one_file(opts.args)
    if path is None:
        return 1
    client = connect(opts)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        error(f"Error opening snapshot file: {exc}")
        return 1
    try:
        client.request("PUT", "/v1/snapshot", body=data)
    except ConsulError as exc:
        error(f"Error restoring snapshot: {exc}")
        return 1
    info("Restored snapshot")
    return 0


def inspect(argv: list[str]) -> int:
    fs = FlagSet(INSPECT_HELP)
    fs.string("format", "pretty", "Output format {pretty|json}")
    opts = fs.parse(argv)
    path = _one_file(opts.args)
    if path is None:
        return 1
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        error(f"Error opening snapshot file: {exc}")
        return 1
    if os.path.basename(path).lower() == "state.bin":
        # A server's raw raft snapshot: its meta.json sits next to it.
        meta_path = os.path.join(os.path.dirname(path), "meta.json")
        try:
            with open(meta_path, "rb") as fh:
                meta = metadata({"meta.json": fh.read()})
        except OSError as exc:
            error(f"Error reading meta.json from internal snapshot dir: {exc}")
            return 1
        except SnapshotError as exc:
            error(f"Error parsing meta.json from internal snapshot dir: {exc}")
            return 1
    else:
        try:
            meta = metadata(read_archive(data))
        except SnapshotError as exc:
            error(f"Error reading snapshot: {exc}")
            return 1
    if opts["format"] == "json":
        from pyconsul.cli.output import go_json

        info(go_json({"Meta": {k: meta.get(k) for k in ("ID", "Size", "Index", "Term", "Version")}},
                     indent="   "))
        return 0
    rows = [(" ID", meta.get("ID", "")), (" Size", meta.get("Size", 0)), (" Index", meta.get("Index", 0)),
            (" Term", meta.get("Term", 0)), (" Version", meta.get("Version", 0))]
    info(tabwrite(rows))
    return 0


register_group(("snapshot",), "Saves, restores and inspects snapshots of Consul server state",
               SNAPSHOT_HELP)
register(("snapshot", "save"), save, "Saves snapshot of Consul server state")
register(("snapshot", "restore"), restore, "Restores snapshot of Consul server state")
register(("snapshot", "inspect"), inspect, "Displays information about a Consul snapshot file")
