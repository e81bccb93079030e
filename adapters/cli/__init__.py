"""The ``handoff`` command line."""
