"""The import-template check: is an accounting office's CRM import file complete and correct?

An import template carries, per client, what the automation downstream needs:
RSIN/BSN (to link tax returns to the dossier), relation and contact numbers
(to pair records with linked packages), bank accounts (for iDEAL 1-cent
identification), VAT and payroll-tax return periods (how often the periodic
workflows start), VAT and payroll-tax numbers (to link the returns), and the
persons with their shares (the UBOs above 25 %). `check_file` reads the file
(CSV as a Dutch Excel writes it, or XLSX), checks every row with
`crmconnect.validation`, and says per row and field what is wrong (errors) or
missing (warnings) and what it breaks, in Dutch and English. `write_outputs`
writes the normalised file and the report (CSV and a self-contained HTML page);
every input row appears in one of them.

Example:
    ```python
    from crmconnect.importer import check_file, write_outputs, write_template

    write_template("template.xlsx")
    check = check_file("clients.csv")
    for finding in check.findings:
        print(finding.line, finding.field, finding.message_en, finding.consequence_en)
    write_outputs(check, "out/")
    ```

On the command line: ``crmconnect validate clients.csv`` (exit code 0 only
without errors) and ``crmconnect template template.xlsx``.
"""

from ._check import (
    PERIODS,
    UBO_THRESHOLD,
    CheckedRow,
    Finding,
    ImportCheck,
    Severity,
    Shareholder,
    check_file,
    check_table,
    match_headers,
)
from ._report import Outputs, render_html, write_outputs
from ._template import COLUMNS, CONSEQUENCES, MESSAGES, Column, write_template

__all__ = [
    "COLUMNS",
    "CONSEQUENCES",
    "MESSAGES",
    "PERIODS",
    "UBO_THRESHOLD",
    "CheckedRow",
    "Column",
    "Finding",
    "ImportCheck",
    "Outputs",
    "Severity",
    "Shareholder",
    "check_file",
    "check_table",
    "match_headers",
    "render_html",
    "write_outputs",
    "write_template",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = "crmconnect.importer"
del _name, _obj
