"""Tests of the load generator (benchmarks/loadtest): its statistics, and short runs against real servers."""
