"""Benchmarks comparing pipl with the tools a user would pick instead (``make bench``)."""
