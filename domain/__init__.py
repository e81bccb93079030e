"""The Handoff aggregate, its events and rules: pure Python, no I/O."""
