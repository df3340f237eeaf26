"""Version of crmconnect."""

__version__ = "0.1.0"
