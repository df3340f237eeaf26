"""Starting a sandbox in a process of its own for a benchmark (``python -m crmconnect.sandbox``)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Mapping

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_sandbox(
    service: str, *options: str, ready: str, headers: Mapping[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Run ``python -m crmconnect.sandbox SERVICE --port N OPTIONS``; wait until ``ready`` answers.

    Returns the process and the root URL; any HTTP answer at ``url + ready`` means it is up.
    """
    port = free_port()
    command = [sys.executable, "-m", "crmconnect.sandbox", service, "--port", str(port), *options]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(url + ready, headers=dict(headers or {}), timeout=2)
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    error = process.stderr.read().decode(errors="replace") if process.stderr else ""
    raise SystemExit(f"sandbox did not start: {error}")
