"""Batch gates: Great Expectations suites derived from schemas/ and run per batch."""
