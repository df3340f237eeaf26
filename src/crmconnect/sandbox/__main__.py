"""Command line: run a sandbox as a loopback HTTP server until Ctrl-C.

Usage::

    python -m crmconnect.sandbox kvk --port 8123 [--host 127.0.0.1] [--latency 0.02]
        [--rate-limit 100] [--synthetic 10000] [--seed 0]
    python -m crmconnect.sandbox eboekhouden --port 8124 [--username U
        --security-code-1 C1 --security-code-2 C2] [--access-token T]
        [--latency 0.02] [--rate-limit 100]
    python -m crmconnect.sandbox digitalefactuur --port 8125 [--account-id A
        --access-code K] [--synthetic 10000] [--latency 0.02]
    python -m crmconnect.sandbox eboekhouden --any-account [--accounts FILE] [--rate-limit 10]
    python -m crmconnect.sandbox digitalefactuur --any-account [--accounts FILE]

One subcommand per emulated service; each registers its own options.
``--any-account`` and ``--accounts`` serve many accounts from one process,
each with its own books (rate limits then count per account).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType

import attrs

from .._redact import mask_secret
from ._accounts import load_accounts
from ._core import CONTROL_PATH
from ._digitalefactuur import (
    DEMO_ACCESS_CODE,
    DEMO_ACCOUNT_ID,
    DigitaleFactuurSandbox,
    generate_relations,
)
from ._digitalefactuur_accounts import DigitaleFactuurMultiSandbox
from ._eboekhouden import (
    DEMO_CREDENTIALS,
    REST_PREFIX,
    SOAP_PATH,
    EBoekhoudenCredentials,
    EBoekhoudenSandbox,
)
from ._eboekhouden_accounts import EBoekhoudenMultiSandbox
from ._kvk import DEMO_API_KEY, TEST_API_KEY, KvKSandbox
from ._kvk_data import generate_companies, kvk_test_companies
from ._vies import VIES_PATH, ViesSandbox

__all__ = ["build_parser", "main"]

Runner = Callable[[argparse.Namespace], int]


def _add_common(parser: argparse.ArgumentParser, default_port: int) -> None:
    """Options every service shares: where to listen and how to misbehave."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=default_port, help="port (default: %(default)s; 0 = any free)"
    )
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument(
        "--rate-limit", type=float, default=None, help="requests per second before 429"
    )
    parser.add_argument(
        "--error-rate", type=float, default=0.0, help="share (0..1) of requests that fail at random"
    )


def _add_accounts(parser: argparse.ArgumentParser, fields: str) -> None:
    """Options of the accounting services: many accounts in one process."""
    parser.add_argument(
        "--any-account",
        action="store_true",
        help="open fresh, empty books for any well-formed credentials (many accounts)",
    )
    parser.add_argument(
        "--accounts",
        metavar="FILE",
        help=f"serve the accounts listed in FILE (TOML [[accounts]] or a JSON list; {fields})",
    )


def _control_line(url: str) -> str:
    return f"  control: {url}{CONTROL_PATH}/ (JSON, loopback clients only)"


def _add_kvk(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "kvk",
        help="KvK Zoeken, Basisprofiel, Vestigingsprofiel and Naamgeving",
        description="Serve the KvK sandbox under /test/api and /api until Ctrl-C.",
    )
    _add_common(parser, default_port=8123)
    parser.add_argument(
        "--synthetic", type=int, default=0, metavar="N", help="add N synthetic companies"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for --synthetic and --error-rate")
    parser.add_argument(
        "--api-key",
        action="append",
        metavar="KEY",
        help="accepted key (repeatable; default: KvK's test key and 'sandbox')",
    )
    parser.add_argument(
        "--deprecation-warning", metavar="TEXT", help="announce TEXT in a 'warning: 299' header"
    )
    parser.set_defaults(run=_run_kvk)


def _run_kvk(args: argparse.Namespace) -> int:
    companies = kvk_test_companies() + generate_companies(args.synthetic, seed=args.seed)
    sandbox = KvKSandbox(
        companies,
        api_keys=args.api_key,
        latency=args.latency,
        rate_limit=args.rate_limit,
        deprecation_warning=args.deprecation_warning,
    )
    sandbox.faults.error_rate = args.error_rate
    with sandbox.serve(args.host, args.port, allow_remote=args.allow_remote) as url:
        print(f"KvK sandbox with {len(sandbox.register)} companies on {url}", flush=True)
        print(f"  test environment: {url}/test/api   production paths: {url}/api")
        if args.api_key:  # never echo keys given on the command line
            print("  API key (header 'apikey'): as given (not shown)")
        else:  # KvK's published test key and the sandbox's documented one
            print(f"  API key (header 'apikey'): {TEST_API_KEY} or {DEMO_API_KEY}")
        print(_control_line(url))
        print("  Press Ctrl-C to stop.", flush=True)
        return _wait()


def _add_eboekhouden(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "eboekhouden",
        help="e-Boekhouden SOAP and REST (relations, mutations, open items, ledgers, balances)",
        description=(
            f"Serve the e-Boekhouden sandbox's SOAP service at {SOAP_PATH} and its REST API "
            f"under {REST_PREFIX} until Ctrl-C. Give all three SOAP credential options, or "
            f"none for the demo login (username {DEMO_CREDENTIALS.username!r}, security codes "
            f"{DEMO_CREDENTIALS.security_code_1!r} and {DEMO_CREDENTIALS.security_code_2!r}, "
            f"REST access token {DEMO_CREDENTIALS.access_token!r})."
        ),
    )
    _add_common(parser, default_port=8124)
    parser.add_argument("--username", metavar="U", help="accepted username")
    parser.add_argument("--security-code-1", metavar="C1", help="accepted security code 1")
    parser.add_argument("--security-code-2", metavar="C2", help="accepted security code 2")
    parser.add_argument(
        "--access-token",
        metavar="T",
        help="accepted REST access token (default: the demo token with the demo login, "
        "else REST sessions are refused)",
    )
    parser.add_argument(
        "--session-ttl",
        type=float,
        default=None,
        metavar="SECONDS",
        help="idle seconds before a session expires (default: never)",
    )
    _add_accounts(parser, "username, security_code_1, security_code_2, access_token")
    parser.set_defaults(run=_run_eboekhouden, parser=parser)


def _run_eboekhouden(args: argparse.Namespace) -> int:
    given = [args.username, args.security_code_1, args.security_code_2]
    if any(value is not None for value in given) and not all(given):
        parser: argparse.ArgumentParser = args.parser
        parser.error("give --username, --security-code-1 and --security-code-2 together, or none")
    demo = not any(given)
    token = args.access_token or (DEMO_CREDENTIALS.access_token if demo else None)
    login = DEMO_CREDENTIALS if demo else EBoekhoudenCredentials(*given)
    credentials = attrs.evolve(login, access_token=token)
    if args.any_account or args.accounts:
        return _run_eboekhouden_many(args, None if demo and args.accounts else credentials)
    sandbox = EBoekhoudenSandbox(
        credentials,
        latency=args.latency,
        rate_limit=args.rate_limit,
        session_ttl=args.session_ttl,
    )
    sandbox.faults.error_rate = args.error_rate
    with sandbox.serve(args.host, args.port, allow_remote=args.allow_remote) as url:
        print(f"e-Boekhouden sandbox on {url}", flush=True)
        print(f"  SOAP endpoint: {url}{SOAP_PATH}   REST API: {url}{REST_PREFIX}")
        # The username identifies the account: masked like the codes unless it is the demo's.
        shown = credentials.username if demo else mask_secret(credentials.username)
        print(f"  username: {shown}")
        if demo:  # documented demo codes: safe to show
            print(f"  security code 1: {credentials.security_code_1}")
            print(f"  security code 2: {credentials.security_code_2}")
        else:  # never echo real-looking codes
            print("  security codes: as given on the command line (not shown)")
        if token == DEMO_CREDENTIALS.access_token:
            print(f"  REST access token: {token}")
        else:
            print("  REST access token: " + ("as given (not shown)" if token else "none: REST off"))
        print(_control_line(url))
        print("  Press Ctrl-C to stop.", flush=True)
        return _wait()


def _run_eboekhouden_many(args: argparse.Namespace, first: EBoekhoudenCredentials | None) -> int:
    """Many accounts: those listed, ``first`` (the one of the options, or the demo's)."""
    listed = [first] if first is not None else []
    try:
        listed += [_eboekhouden_login(entry) for entry in _listed(args)]
        sandbox = EBoekhoudenMultiSandbox(
            listed, any_account=args.any_account, latency=args.latency,
            rate_limit=args.rate_limit, error_rate=args.error_rate, session_ttl=args.session_ttl,
        )  # fmt: skip
    except (OSError, ValueError) as error:
        parser: argparse.ArgumentParser = args.parser
        parser.error(str(error))
    with sandbox.serve(args.host, args.port, allow_remote=args.allow_remote) as url:
        print(f"e-Boekhouden sandbox for many accounts on {url}", flush=True)
        print(f"  SOAP endpoint: {url}{SOAP_PATH}   REST API: {url}{REST_PREFIX}")
        _print_accounts(len(listed), args, first == DEMO_CREDENTIALS)
        print(_control_line(url))
        print("  Press Ctrl-C to stop.", flush=True)
        return _wait()


def _eboekhouden_login(entry: dict[str, str]) -> EBoekhoudenCredentials:
    known = {"username", "security_code_1", "security_code_2", "access_token"}
    if set(entry) - known or not (entry.get("username") or entry.get("access_token")):
        raise ValueError(f"each account: {', '.join(sorted(known))} (a login and/or a token)")
    if entry.get("username") and not (
        entry.get("security_code_1") and entry.get("security_code_2")
    ):
        raise ValueError("an account with a username needs security_code_1 and security_code_2")
    return EBoekhoudenCredentials(
        entry.get("username", ""), entry.get("security_code_1", ""),
        entry.get("security_code_2", ""), entry.get("access_token") or None,
    )  # fmt: skip


def _listed(args: argparse.Namespace) -> list[dict[str, str]]:
    return load_accounts(args.accounts) if args.accounts else []


def _print_accounts(count: int, args: argparse.Namespace, demo: bool) -> None:
    """What the banner of a many-account sandbox says about its accounts (never a credential)."""
    shown = f"  accounts: {count} listed" + (" (the demo account among them)" if demo else "")
    if args.any_account:
        shown += "; any other well-formed credentials open fresh, empty books"
    print(shown)
    if args.rate_limit:
        print(f"  rate limit: {args.rate_limit:g} requests/s per account")


def _add_digitalefactuur(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "digitalefactuur",
        help="DigitaleFactuur's XML API (relations, invoices, payments)",
        description=(
            "Serve the DigitaleFactuur sandbox at /api/{account_id}/{access_code}/{action} "
            "until Ctrl-C. Give both credential options, or none for the demo account "
            f"(account id {DEMO_ACCOUNT_ID!r}, access code {DEMO_ACCESS_CODE!r})."
        ),
    )
    _add_common(parser, default_port=8125)
    parser.add_argument("--account-id", metavar="A", help="accepted account id")
    parser.add_argument("--access-code", metavar="K", help="accepted access code")
    parser.add_argument(
        "--synthetic", type=int, default=0, metavar="N", help="start with N synthetic relations"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for --synthetic and --error-rate")
    _add_accounts(parser, "account_id, access_code")
    parser.set_defaults(run=_run_digitalefactuur, parser=parser)


def _run_digitalefactuur(args: argparse.Namespace) -> int:
    given = [args.account_id, args.access_code]
    if any(given) and not all(given):
        parser: argparse.ArgumentParser = args.parser
        parser.error("give --account-id and --access-code together, or neither")
    demo = not any(given)
    account, code = (DEMO_ACCOUNT_ID, DEMO_ACCESS_CODE) if demo else given
    if args.any_account or args.accounts:
        return _run_digitalefactuur_many(args, None if demo and args.accounts else (account, code))
    sandbox = DigitaleFactuurSandbox(
        account,
        code,
        latency=args.latency,
        rate_limit=args.rate_limit,
        relations=generate_relations(args.synthetic, seed=args.seed),
    )
    sandbox.faults.error_rate = args.error_rate
    with sandbox.serve(args.host, args.port, allow_remote=args.allow_remote) as url:
        print(
            f"DigitaleFactuur sandbox with {len(sandbox.relations)} relations on {url}", flush=True
        )
        # The client's base_url; the credentials are path segments the client adds
        # (…/api/<account_id>/<access_code>/<action>), so no URL here holds them.
        print(f"  base_url: {url}/api")
        if demo:
            print(
                f"  account_id: {mask_secret(account)}   access_code: {mask_secret(code)}"
                "   (the demo account: crmconnect.sandbox.DEMO_ACCOUNT_ID and DEMO_ACCESS_CODE)"
            )
        else:
            print("  account_id and access_code: as given (not shown)")
        print(_control_line(url))
        print("  Press Ctrl-C to stop.", flush=True)
        return _wait()


def _run_digitalefactuur_many(args: argparse.Namespace, first: tuple[str, str] | None) -> int:
    """Many accounts: those listed, ``first`` (the one of the options, or the demo's)."""
    listed = [first] if first is not None else []
    try:
        for entry in _listed(args):
            if set(entry) != {"account_id", "access_code"}:
                raise ValueError("each account needs exactly account_id and access_code")
            listed.append((entry["account_id"], entry["access_code"]))
        sandbox = DigitaleFactuurMultiSandbox(
            any_account=args.any_account, latency=args.latency, rate_limit=args.rate_limit,
            error_rate=args.error_rate,
        )  # fmt: skip
        for account, code in listed:
            sandbox.add_account(
                account, code, relations=generate_relations(args.synthetic, seed=args.seed)
            )
    except (OSError, ValueError) as error:
        parser: argparse.ArgumentParser = args.parser
        parser.error(str(error))
    with sandbox.serve(args.host, args.port, allow_remote=args.allow_remote) as url:
        print(f"DigitaleFactuur sandbox for many accounts on {url}", flush=True)
        print(f"  base_url: {url}/api")
        _print_accounts(len(listed), args, first == (DEMO_ACCOUNT_ID, DEMO_ACCESS_CODE))
        print(_control_line(url))
        print("  Press Ctrl-C to stop.", flush=True)
        return _wait()


def _add_vies(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "vies",
        help="the EU's VIES VAT-number check (REST), with its test numbers",
        description=f"Serve the VIES sandbox's REST interface under {VIES_PATH} until Ctrl-C.",
    )
    _add_common(parser, default_port=8126)
    parser.add_argument(
        "--unavailable", action="append", default=[], metavar="CC",
        help="a member state whose system is down (repeatable)",
    )  # fmt: skip
    parser.set_defaults(run=_run_vies)


def _run_vies(args: argparse.Namespace) -> int:
    sandbox = ViesSandbox(latency=args.latency)
    sandbox.faults.rate_limit = args.rate_limit
    sandbox.faults.error_rate = args.error_rate
    for country in args.unavailable:
        sandbox.set_available(country, False)
    with sandbox.serve(args.host, args.port, allow_remote=args.allow_remote) as url:
        print(f"VIES sandbox on {url}", flush=True)
        print(f"  REST: {url}{VIES_PATH}/ms/NL/vat/004495445B01   test numbers: 100, 200, 300, ...")
        print(_control_line(url))
        print("  Press Ctrl-C to stop.", flush=True)
        return _wait()


def _wait() -> int:
    """Sleep until Ctrl-C or SIGTERM (both stop the server cleanly)."""
    signal.signal(signal.SIGTERM, _interrupt)
    # A shell starts background jobs with SIGINT ignored; take Ctrl-C back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one subcommand per emulated service."""
    parser = argparse.ArgumentParser(
        prog="python -m crmconnect.sandbox",
        description="Offline emulators of the services crmconnect talks to.",
    )
    commands = parser.add_subparsers(dest="service", required=True, metavar="SERVICE")
    _add_kvk(commands)
    _add_eboekhouden(commands)
    _add_digitalefactuur(commands)
    _add_vies(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen sandbox until Ctrl-C."""
    args = build_parser().parse_args(argv)
    run: Runner = args.run
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
