"""Benchmarks behind `make bench`; they write docs/performance.md. Not collected by pytest."""
