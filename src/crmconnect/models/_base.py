"""What every canonical model shares: its base class, its text and identifier types.

Every string of a canonical model goes through `crmconnect._model.Text`
(control and invisible characters removed, then surrounding whitespace), the
codes that identify a record through `crmconnect._model.key` with the
tightest length among the connectors, and every identifier through its
`crmconnect.validation` rule, so a bad value is refused when the model is
built, the same way for every connector, and never half-way through a push.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ConfigDict

from .._model import Model, Text, key
from ..errors import ValidationError

__all__ = [
    "MAX_INVOICE_NUMBER",
    "MAX_RELATION_CODE",
    "CanonicalModel",
    "CleanText",
    "InvoiceNumber",
    "RelationCode",
    "RelationNumber",
    "identifier",
]

MAX_RELATION_CODE = 15
"""Longest relation code (relatiecode) any connector takes: e-Boekhouden's ``Code``.

e-Boekhouden refuses a longer one (REST ``REL_006`` "Code is too long"); its
sandbox and its `Relation` model use the same 15. DigitaleFactuur documents
no length for its ``relatienummer``.
"""

MAX_INVOICE_NUMBER = 50
"""Longest invoice number (factuurnummer) the models accept.

e-Boekhouden refuses an invoice number that is too long (REST ``MUT_018``,
``FACT_007``) without saying how long is too long, and neither the SOAP WSDL
(a plain ``s:string``) nor DigitaleFactuur's documentation gives a length:
50 is an assumption, to be confirmed against the live services.
"""


class CanonicalModel(Model):
    """The base of every canonical model.

    Unknown fields are refused (a typo in a field name is an error, not a
    silently ignored value), assignments are validated like construction,
    and every failure is a `crmconnect.errors.ValidationError`.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, str_strip_whitespace=True)

    def __setattr__(self, name: str, value: Any) -> None:
        # pydantic stores the new value before it runs the model's own checks
        # (a Dutch postcode once the country becomes NL, a line amount), and
        # keeps it when they fail: a refused assignment leaves the model as it was.
        before, fields_set = dict(self.__dict__), set(self.__pydantic_fields_set__)
        try:
            super().__setattr__(name, value)
        except ValidationError:
            self.__dict__.update(before)
            object.__setattr__(self, "__pydantic_fields_set__", fields_set)
            raise


def _strip(value: str) -> str:
    return value.strip()


CleanText = Annotated[Text, AfterValidator(_strip)]
"""`Text` without surrounding whitespace, also where an invisible character hid it."""


def _number_or_blank(value: object) -> object:
    # A CRM may hold these numbers in an integer column, and an empty one as "".
    if isinstance(value, bool):
        raise ValueError("is a boolean, not a number")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("is negative")
        return str(value)
    return None if isinstance(value, str) and not value.strip() else value


if TYPE_CHECKING:
    RelationCode = str
    RelationNumber = str | None
    InvoiceNumber = str
else:
    RelationCode = key(MAX_RELATION_CODE)
    """A relation code: visible text of at most `MAX_RELATION_CODE` characters."""
    RelationNumber = Annotated[RelationCode | None, BeforeValidator(_number_or_blank)]
    """A party's optional debtor or creditor number, used as its relation code remotely.

    A `RelationCode`; an int is taken as its digits (``1001`` → ``"1001"``),
    and ``""`` or spaces mean no number (``None``). No number range is
    enforced: 1xxx debtors and 2xxx creditors is only DigitaleFactuur's
    convention, and e-Boekhouden and host CRMs number otherwise.
    """
    InvoiceNumber = key(MAX_INVOICE_NUMBER)
    """An invoice number: visible text of at most `MAX_INVOICE_NUMBER` characters."""


def identifier(rule: Callable[[Any], str]) -> BeforeValidator:
    """Check and normalise a string field with a `crmconnect.validation` rule.

    Use it as ``Annotated[str, identifier(validation.kvk_number)]``. The rule
    sees the raw value (an integer too, where the rule accepts one) and its
    reason becomes the reason of the model's error, which names the model's
    field and the value.

    Args:
        rule: A validator such as `crmconnect.validation.kvk_number`.
    """

    def check(value: object) -> str:
        try:
            return rule(value)
        except ValidationError as exc:
            reason = exc.reason
        raise ValueError(reason)  # outside the except block: the model names field and value

    return BeforeValidator(check)
