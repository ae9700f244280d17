"""Healthchecks of the compose lab's containers: `python -m cluster.healthcheck SERVICE`.

Standard library only, so a check every few seconds costs a fraction of a second. Each
exits 0 when the service does its job, not merely when a port answers: a worker is healthy
once the master lists it ALIVE (as the native lab's `up` waits for), the master once it
serves its JSON, the Connect server once its gRPC port accepts connections.
"""

from __future__ import annotations

import json
import socket
import sys
import urllib.request

MASTER_URL = "http://spark-master:8080/json/"


def _get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=3) as response:
        data = json.load(response)
    return data if isinstance(data, dict) else {}


def own_address() -> str:
    """The IP other containers reach this one by (the address a worker registers with)."""
    return socket.gethostbyname(socket.gethostname())


def worker_registered(master: dict[str, object], address: str) -> bool:
    """True when the master's JSON lists an ALIVE worker on `address`."""
    workers = master.get("workers")
    if not isinstance(workers, list):
        return False
    return any(
        isinstance(worker, dict) and worker.get("host") == address and worker.get("state") == "ALIVE"
        for worker in workers
    )


def check(service: str) -> bool:
    """Whether `service` (master, worker, connect) in this container is healthy."""
    if service == "master":
        return _get_json("http://localhost:8080/json/").get("status") == "ALIVE"
    if service == "worker":
        _get_json("http://localhost:8081/json/")
        return worker_registered(_get_json(MASTER_URL), own_address())
    if service == "connect":
        socket.create_connection(("localhost", 15002), timeout=3).close()
        return True
    raise SystemExit(f"healthcheck: unknown service {service!r} (master, worker, connect)")


def main(argv: list[str]) -> int:
    """Exit 0 when healthy, 1 (with the reason on stderr) when not."""
    if len(argv) != 1:
        print("usage: python -m cluster.healthcheck master|worker|connect", file=sys.stderr)
        return 2
    try:
        healthy = check(argv[0])
    except OSError as error:
        print(f"healthcheck {argv[0]}: {error}", file=sys.stderr)
        return 1
    if not healthy:
        print(f"healthcheck {argv[0]}: not ready", file=sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
