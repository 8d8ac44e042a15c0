"""Attacks on the running product, each beside a victim call of load-generator bots (issue P10)."""
