"""Import-check benchmark: check a CRM import file of 100,000 rows and write the outputs.

The file is made up here (semicolons, Windows-1252, as a Dutch Excel writes
it): valid identifiers, with a mix of gaps, errors and persons, so every rule
runs. Prints rows per second, the time for reading and checking and for
writing the outputs, and the findings by kind. Goal: 100,000 rows in under 20 s.
Run ``python benchmarks/import_check.py [--rows N]``.
"""

from __future__ import annotations

import argparse
import collections
import random
import tempfile
import time
from pathlib import Path

from schwifty import IBAN

from crmconnect.importer import check_file, write_outputs

HEADER = [
    "Relatienummer", "Naam", "KvK-nummer", "RSIN/BSN", "Btw-nummer", "Loonheffingennummer",
    "IBAN", "Aangiftetijdvak btw", "Aangiftetijdvak loonheffingen", "Producten", "Contactnummer",
    "Postcode", "Persoon 1 naam", "Persoon 1 aandeel", "Persoon 1 geboortedatum",
    "Persoon 1 nationaliteit", "Persoon 2 naam", "Persoon 2 aandeel",
]  # fmt: skip


def elfproef_number(rng: random.Random) -> str:
    while True:
        digits = [rng.randrange(10) for _ in range(8)]
        total = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True))
        last = total % 11
        if last < 10:
            return "".join(map(str, digits)) + str(last)


def rows(count: int, seed: int = 0) -> list[list[str]]:
    rng = random.Random(seed)
    ibans = [
        IBAN.generate("NL", bank_code="ABNA", account_code=str(n)).compact for n in range(1, 200)
    ]
    made = []
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
        made.append(row)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "import.csv"
        text = "\r\n".join(";".join(row) for row in [HEADER, *rows(args.rows)])
        path.write_bytes(text.encode("cp1252"))
        started = time.perf_counter()
        check = check_file(path)
        checked = time.perf_counter() - started
        write_outputs(check, folder)
        written = time.perf_counter() - started - checked
    kinds = collections.Counter(f"{f.severity.value}:{f.code}" for f in check.findings)
    total = checked + written
    print(f"\n== import check of {len(check.rows)} rows")
    print(f"read and check       {checked:8.2f} s   ({len(check.rows) / checked:,.0f} rows/s)")
    print(f"write outputs        {written:8.2f} s")
    print(f"total                {total:8.2f} s   (goal < 20 s)")
    print(f"findings             {dict(sorted(kinds.items()))}")


if __name__ == "__main__":
    main()
