"""Fakes of the vendors' cloud APIs, each enforcing its published contract."""
