"""Fuzz harnesses for the parsers: targets, a mutation engine, a corpus of captured traffic, a CLI for long runs."""
