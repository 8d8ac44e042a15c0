"""Load generator and micro-benchmarks for the media server."""
