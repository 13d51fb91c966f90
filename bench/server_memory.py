"""A server's memory per 1,000 service instances (one real -dev server, own loopback address).

    PYTHONPATH=$PWD python3 bench/server_memory.py [--instances 5000]

Registers `--instances` external nodes with one service and one passing check each through
`/v1/catalog/register` (batched in threads), and reads the server's RSS (/proc/<pid>/status)
before, as the reference, and after. Prints JSON: both RSS figures, the growth per 1,000
instances, and the load average."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.agents import start_agent  # noqa: E402
from tests.support.ports import loopback  # noqa: E402


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=5000)
    n = ap.parse_args().instances
    agent = start_agent(Path(tempfile.mkdtemp(prefix="mem-bench-")), name="mem", host=loopback(81))
    try:
        time.sleep(2.0)  # not synchronisation: let start-up allocations settle before the reference
        before = rss_kib(agent.proc.pid)

        def register(i: int) -> None:
            body = {"Node": f"n{i}", "Address": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
                    "Service": {"ID": f"web-{i}", "Service": "web", "Port": 8000 + i % 1000, "Tags": ["v1"],
                                "Meta": {"version": "1"}},
                    "Check": {"CheckID": f"web-{i}", "Name": "web", "Status": "passing", "ServiceID": f"web-{i}"}}
            status = agent.request("PUT", "/v1/catalog/register", body)[0]
            assert status == 200, status

        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(register, range(n)))
        took = time.monotonic() - started
        time.sleep(2.0)
        after = rss_kib(agent.proc.pid)
        print(json.dumps({"instances": n, "rss_before_mib": round(before / 1024, 1),
                          "rss_after_mib": round(after / 1024, 1),
                          "mib_per_1000_instances": round((after - before) / 1024 / (n / 1000), 2),
                          "register_per_s": round(n / took, 1),
                          "loadavg": [round(x, 2) for x in os.getloadavg()]}, indent=2))
    finally:
        agent.stop()


if __name__ == "__main__":
    main()
