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
writes the normalised file and the report (CSV and a self-contained HTML page)
in one streaming pass; every input row appears in one of them. Every CSV and
XLSX cell written is safe from formula injection.

Example:
    ```python
    from crmconnect.importer import Severity, check_file, write_outputs, write_template

    write_template("template.xlsx")
    check = check_file("clients.csv")          # reads the header; the rows stream later
    for finding in check.iter_findings():      # one pass over the file
        print(finding.line, finding.field, finding.message_en, finding.consequence_en)
    outputs = write_outputs(check, "out/")     # another pass: writes all three outputs
    print(outputs.summary.count(Severity.ERROR), outputs.summary.taken)
    ```

On the command line: ``crmconnect validate clients.csv`` (exit code 0 only
without errors) and ``crmconnect template template.xlsx``.
"""

from ._check import (
    PERIODS,
    SHOWN_FINDINGS,
    UBO_THRESHOLD,
    CheckedRow,
    CheckSummary,
    Finding,
    ImportCheck,
    Severity,
    Shareholder,
    check_file,
    check_table,
    match_headers,
)
from ._report import Outputs, render_html, write_outputs
from ._template import (
    COLUMNS,
    CONSEQUENCES,
    MESSAGES,
    TEMPLATE_SUFFIXES,
    Column,
    write_template,
)

__all__ = [
    "COLUMNS",
    "CONSEQUENCES",
    "MESSAGES",
    "PERIODS",
    "SHOWN_FINDINGS",
    "TEMPLATE_SUFFIXES",
    "UBO_THRESHOLD",
    "CheckSummary",
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
