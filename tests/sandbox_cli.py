"""Start ``python -m crmconnect.sandbox SERVICE`` for a test and read its banner."""

from __future__ import annotations

import re
import subprocess
import sys


def serve_cli(service: str, *options: str) -> tuple[subprocess.Popen[str], str, str]:
    """The running process, its root URL and the banner it printed (up to "Ctrl-C")."""
    process = subprocess.Popen(
        [sys.executable, "-m", "crmconnect.sandbox", service, "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    banner = process.stdout.readline()
    found = re.search(r"http://[\d.:]+", banner)
    assert found is not None, banner
    while "Ctrl-C" not in banner:  # communicate() would skip lines read into the buffer
        banner += process.stdout.readline()
    return process, found.group(0), banner
