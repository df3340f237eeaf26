"""Helpers for testing code that uses crmconnect.

Example:
    ```python
    from crmconnect.testing import set_testing

    set_testing(True)  # retries happen, but without waiting
    ```
"""

from .._retry import set_testing, testing_enabled

__all__ = ["set_testing", "testing_enabled"]
