"""Raise the open-file limit to what the system allows before the agent starts serving.

Every client connection, blocking query and Raft peer holds a descriptor; the soft limit many
systems start processes with (1024) is reached long before the hard one. Consul does the same.
"""

from __future__ import annotations

import logging

log = logging.getLogger("pyconsul.agent")


def raise_open_file_limit() -> tuple[int, int]:
    """Set RLIMIT_NOFILE's soft limit to its hard limit; returns (soft, hard) in force after."""
    try:
        import resource
    except ImportError:  # not a POSIX system
        return (-1, -1)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return (soft, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        log.warning("could not raise the open-file limit", extra={"soft": soft, "hard": hard, "error": str(exc)})
        return (soft, hard)
    return (target, hard)
