"""`consul lock [options] prefix child...`: run a child while holding a KV lock or semaphore.

Flow as in Consul: check the agent, create a session (TTL 15s, renewed), acquire, start the child
with CONSUL_LOCK_HELD=true, then wait for whichever comes first — the child exits, the lock is
lost, or we get SIGINT/SIGTERM. A child still running is sent SIGTERM, then SIGKILL after 5s.
The lock is released, the session destroyed and the lock key removed if nobody else uses it.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
from collections.abc import Callable
from types import FrameType

from pyconsul.cli.common import child_argv, connect, new_flags
from pyconsul.cli.http import Client, ConsulError
from pyconsul.cli.lock_kv import InUseError, KVLock, KVSemaphore, LockError, SessionKeeper
from pyconsul.cli.output import error, info
from pyconsul.cli.registry import register

KILL_GRACE_SECONDS = 5.0

HELP = """
Usage: consul lock [options] prefix child...

  Acquires a lock or semaphore at a given path, and invokes a child process
  when successful. The child process can assume the lock is held while it
  executes. If the lock is lost or communication is disrupted the child
  process will be sent a SIGTERM signal and given time to gracefully exit.
  After the grace period expires the process will be hard terminated.

  For Consul agents on Windows, the child process is always hard terminated
  with a SIGKILL, since Windows has no POSIX compatible notion for SIGTERM.

  When -n=1, only a single lock holder or leader exists providing mutual
  exclusion. Setting a higher value switches to a semaphore allowing multiple
  holders to coordinate.

  The prefix provided must have write privileges.
"""


class _Interrupted(Exception):
    pass


def _exit_text(code: int) -> str:
    """Go's *exec.ExitError text."""
    if code < 0:
        name = {signal.SIGTERM: "terminated", signal.SIGKILL: "killed", signal.SIGINT: "interrupt",
                signal.SIGHUP: "hangup"}.get(signal.Signals(-code), signal.Signals(-code).name.lower())
        return f"signal: {name}"
    return f"exit status {code}"


def run(argv: list[str]) -> int:
    fs = new_flags(HELP)
    fs.bool("child-exit-code", False, "Exit 2 if the child process exited with an error if this is "
            "true, otherwise this doesn't propagate an error from the child. The default value is "
            "false.")
    fs.int("n", 1, "Optional limit on the number of concurrent lock holders. The underlying "
           "implementation switches from a lock to a semaphore when the value is greater than 1. "
           "The default value is 1.")
    fs.int("monitor-retry", 3, "Number of times to retry if Consul returns a 500 error while "
           "monitoring the lock. This allows riding out brief periods of unavailability without "
           "causing leader elections, but increases the amount of time required to detect a lost "
           "lock in some cases. The default value is 3, with a 1s wait between retries. Set this "
           "value to 0 to disable retires.")
    fs.string("name", "", "Optional name to associate with the lock session. It not provided, one "
              "is generated based on the provided child command.")
    fs.bool("pass-stdin", False, "Pass stdin to the child process.")
    fs.bool("shell", True, "Use a shell to run the command (can set a custom shell via the SHELL "
            "environment variable).")
    fs.duration("timeout", 0.0, 'Maximum amount of time to wait to acquire the lock, specified as '
                'a duration like "1s" or "3h". The default value is 0.')
    fs.bool("verbose", False, "Enable verbose (debugging) output.")
    fs.duration("try", 0.0, "DEPRECATED. Use -timeout instead.")
    opts = fs.parse(argv)
    limit = opts["n"]
    if limit <= 0:
        error("Lock holder limit must be positive")
        return 1
    if len(opts.args) < 2:
        error("Key prefix and child command must be specified")
        return 1
    prefix = opts.args[0].lstrip("/")
    child_args = opts.args[1:]
    timeout = opts["timeout"] or opts["try"]
    if timeout < 0:
        error("Timeout must be positive")
        return 1
    if opts["monitor-retry"] < 0:
        error("Number for 'monitor-retry' must be >= 0")
        return 1
    name = opts["name"] or f"Consul lock for '{' '.join(child_args)}' at '{prefix}'"
    verbose = opts["verbose"]

    def say(text: str) -> None:
        if verbose:
            info(text)

    client = connect(opts)
    try:
        client.get_json("/v1/agent/self")
    except ConsulError as exc:
        error(f"Error querying Consul agent: {exc}")
        return 1

    events: queue.Queue[tuple[str, int]] = queue.Queue()
    stop = threading.Event()
    child: subprocess.Popen[bytes] | None = None

    acquiring = [False]

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()
        if acquiring[0]:
            # Break out of a blocking read at once, as Consul's shutdown channel does.
            raise _Interrupted()
        if child is not None and child.poll() is None:
            try:
                child.send_signal(signum)  # forward, as Consul does
            except OSError:
                pass
        events.put(("signal", signum))

    old_handlers = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        session = SessionKeeper(client, Client(client.settings), name)
        monitor_client = Client(client.settings)
        lock: KVLock | KVSemaphore
        if limit == 1:
            lock = KVLock(client, monitor_client, prefix, session, opts["monitor-retry"])
            say(f"Setting up lock at path: {lock.key}")
        else:
            lock = KVSemaphore(client, monitor_client, prefix, limit, session, opts["monitor-retry"])
            say(f"Setting up semaphore (limit {limit}) at prefix: {prefix}")
        say("Attempting lock acquisition")
        try:
            # Not interruptible until the session's ID is known, or it could not be destroyed;
            # a signal meanwhile sets `stop`, which acquire() checks first.
            session.create()
            acquiring[0] = True
            acquired = lock.acquire(stop, timeout if timeout > 0 else None)
            acquiring[0] = False
        except _Interrupted:
            acquiring[0] = False
            client.close()  # the interrupted request left its connection mid-response
            session.destroy()  # releases anything the session got hold of
            error("Shutdown triggered or timeout during lock acquisition")
            return 1
        except (ConsulError, LockError) as exc:
            acquiring[0] = False
            session.destroy()
            error(f"Lock acquisition failed: {exc}")
            return 1
        if not acquired:
            session.destroy()
            error("Shutdown triggered or timeout during lock acquisition")
            return 1
        child_code = 0
        if stop.is_set():
            error("Shutdown triggered during lock acquisition")
        else:
            lost = threading.Event()

            def watch_lost() -> None:
                lock.monitor(lost, stop)
                if lost.is_set():
                    events.put(("lost", 0))

            def watch_session() -> None:
                session.lost.wait()
                if not stop.is_set():
                    events.put(("lost", 0))

            threading.Thread(target=watch_lost, daemon=True).start()
            threading.Thread(target=watch_session, daemon=True).start()
            say("Starting handler")
            try:
                child = subprocess.Popen(
                    child_argv(child_args, opts["shell"]),
                    env={**os.environ, "CONSUL_LOCK_HELD": "true"},
                    stdin=None if opts["pass-stdin"] else subprocess.DEVNULL,
                )
            except OSError as exc:
                error(f"Error starting handler: {exc}")
                child_code = 2
            else:
                proc = child
                threading.Thread(target=lambda: events.put(("child", proc.wait())), daemon=True).start()
                kind, value = events.get()
                if kind == "child":
                    if value != 0:
                        error(f"Error running handler: {_exit_text(value)}")
                        child_code = 2
                    say("Child terminated, releasing lock")
                else:
                    say("Shutdown triggered, killing child" if kind == "signal"
                        else "Lock lost, killing child")
                    _kill_child(proc, say)
        stop.set()
        try:
            lock.release()
        except (ConsulError, LockError) as exc:
            session.destroy()
            error(f"Lock release failed: {exc}")
            return 1
        session.destroy()
        try:
            lock.cleanup()
            say("Cleanup succeeded")
        except InUseError:
            say("Cleanup aborted, lock in use")
        except (ConsulError, LockError) as exc:
            error(f"Lock cleanup failed: {exc}")
            return 1
        return child_code if opts["child-exit-code"] else 0
    finally:
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)


def _kill_child(proc: subprocess.Popen[bytes], say: Callable[[str], None]) -> None:
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
    except OSError as exc:
        error(f"Failed to terminate {proc.pid}: {exc}")
        return
    try:
        proc.wait(KILL_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        try:
            proc.kill()
            proc.wait(5)
        except (OSError, subprocess.TimeoutExpired) as exc:
            error(f"Failed to kill {proc.pid}: {exc}")


register(("lock",), run, "Execute a command holding a lock")
