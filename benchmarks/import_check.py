"""Import-check benchmark: check a CRM import file and write the outputs, at 100,000 and 1,000,000 rows.

The file is made up here (semicolons, Windows-1252, as a Dutch Excel writes
it), written row by row: valid identifiers, with a mix of gaps, errors and
persons, so every rule runs; every fiscal number differs, as in a real file.
Each size runs in a fresh process, so its peak memory is its own. Prints, per
size: the time for the pass (read, check and write all three outputs), rows
per second (and the CPU time: on a busy machine the two differ), the peak resident memory of the process (`resource.getrusage`)
and how much of it the check added over the process before the check, and
the findings by kind.

Goals: 100,000 rows in under 20 s; memory flat in the number of rows (under
200 MB peak at 1,000,000 rows). Run ``python benchmarks/import_check.py``
(both sizes) or ``--rows N`` (one size).
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from schwifty import IBAN

from crmconnect.importer import check_file, write_outputs

HEADER = [
    "Relatienummer", "Naam", "KvK-nummer", "RSIN/BSN", "Btw-nummer", "Loonheffingennummer",
    "IBAN", "Aangiftetijdvak btw", "Aangiftetijdvak loonheffingen", "Producten", "Contactnummer",
    "Postcode", "Persoon 1 naam", "Persoon 1 aandeel", "Persoon 1 geboortedatum",
    "Persoon 1 nationaliteit", "Persoon 2 naam", "Persoon 2 aandeel",
]  # fmt: skip
SIZES = (100_000, 1_000_000)


def elfproef_number(rng: random.Random) -> str:
    while True:
        digits = [rng.randrange(10) for _ in range(8)]
        total = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True))
        last = total % 11
        if last < 10:
            return "".join(map(str, digits)) + str(last)


def rows(count: int, seed: int = 0) -> Iterator[list[str]]:
    rng = random.Random(seed)
    ibans = [
        IBAN.generate("NL", bank_code="ABNA", account_code=str(n)).compact for n in range(1, 200)
    ]
    for n in range(count):
        fiscal = elfproef_number(rng)
        owner, partner = rng.choice([("100", ""), ("60", "40"), ("25", "25"), ("50,5", "49,5")])
        row = [
            str(10000 + n), f"Klant {n} & Zn B.V.", f"{rng.randrange(1_000_000, 99_999_999):08d}",
            fiscal, f"NL{fiscal}B01", f"{fiscal}L01", rng.choice(ibans),
            rng.choice(["kwartaal", "maand", "jaar"]), rng.choice(["maand", "4 weken", ""]),
            "Jaarrekening, Aangifte IB", f"C{n}", f"{rng.randrange(1000, 9999)} AB",
            f"Eigenaar {n}", owner, "1970-01-01", "NL", f"Partner {n}" if partner else "", partner,
        ]  # fmt: skip
        if n % 10 == 3:
            row[3] = ""  # a gap
        if n % 17 == 5:
            row[6] = "NL00ABNA0000000000"  # an error
        if n % 1000 == 7:
            row[0] = str(10000 + n - 1)  # a duplicate relation number
        yield row


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def run(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "import.csv"
        with path.open("w", encoding="cp1252", newline="") as handle:
            handle.write(";".join(HEADER) + "\r\n")
            for row in rows(count):
                handle.write(";".join(row) + "\r\n")
        before = peak_mb()
        started, cpu = time.perf_counter(), time.process_time()
        outputs = write_outputs(check_file(path), folder)
        took, cpu = time.perf_counter() - started, time.process_time() - cpu
        size = path.stat().st_size / 1e6
    summary = outputs.summary
    peak = peak_mb()
    print(f"\n== import check of {summary.rows:,} rows ({size:,.0f} MB of CSV)")
    print(f"check and write      {took:8.2f} s   ({summary.rows / took:,.0f} rows/s)")
    print(f"  of which CPU       {cpu:8.2f} s   (the rest: waiting for a shared CPU or disk)")
    print(f"peak memory          {peak:8.0f} MB  (the check added {peak - before:,.0f} MB)")
    print(f"findings             {dict(sorted(summary.kinds.items()))}")
    if count == 100_000:
        print(f"goal: 100,000 rows in < 20 s: {'met' if took < 20 else 'NOT met'}")
    if count == 1_000_000:
        print(f"goal: < 200 MB peak at 1,000,000 rows: {'met' if peak < 200 else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help="one size (default: 100,000 and 1,000,000)")
    args = parser.parse_args()
    if args.rows:
        run(args.rows)
        return
    for count in SIZES:  # each in its own process: peak memory is per process
        subprocess.run([sys.executable, __file__, "--rows", str(count)], check=True)


if __name__ == "__main__":
    main()
