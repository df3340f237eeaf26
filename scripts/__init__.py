"""Maintenance scripts (cassette recording); the tests import their data from here."""
