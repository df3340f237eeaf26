"""crmconnect."""
