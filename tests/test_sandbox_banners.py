"""The banners of ``python -m crmconnect.sandbox``: usable settings, never a credential."""

from __future__ import annotations

import re
import subprocess

from crmconnect.digitalefactuur import DigitaleFactuurClient
from crmconnect.sandbox import DEMO_ACCESS_CODE, DEMO_ACCOUNT_ID

from .sandbox_cli import serve_cli


def stop(process: subprocess.Popen[str]) -> str:
    """Stop the sandbox; what it printed after the banner."""
    process.terminate()
    output, errors = process.communicate(timeout=10)
    return output + errors


def test_the_digitalefactuur_banner_gives_the_base_url_and_no_credential() -> None:
    process, url, banner = serve_cli("digitalefactuur", "--synthetic", "2")
    try:
        found = re.search(r"base_url: (\S+)", banner)
        assert found is not None, banner
        with DigitaleFactuurClient(DEMO_ACCOUNT_ID, DEMO_ACCESS_CODE, base_url=found[1]) as df:
            numbers = [r.number for r in df.relations()]
    finally:
        shown = banner + stop(process)
    assert found[1] == f"{url}/api" and numbers == ["1000", "1001"]
    assert DEMO_ACCESS_CODE not in shown and f"/{DEMO_ACCOUNT_ID}/" not in shown
    assert "DEMO_ACCESS_CODE" in banner  # where the demo credentials are to be found


def test_the_eboekhouden_banner_masks_a_custom_username() -> None:
    login = ["--username", "jan-de-boekhouder", "--security-code-1", "c-one-x",
             "--security-code-2", "c-two-x"]  # fmt: skip
    process, _, banner = serve_cli("eboekhouden", *login)
    shown = banner + stop(process)
    assert "jan-de-boekhouder" not in shown and "c-one-x" not in shown and "username: " in banner


def test_the_kvk_banner_never_echoes_a_key_given_on_the_command_line() -> None:
    process, _, banner = serve_cli("kvk", "--api-key", "my-own-kvk-key-1234")
    shown = banner + stop(process)
    assert "my-own-kvk-key-1234" not in shown and "not shown" in banner
