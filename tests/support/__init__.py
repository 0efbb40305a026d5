"""Helpers that tests import; fixtures stay in conftest.py."""
