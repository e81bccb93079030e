"""The application: the ``Ledger`` service (every command and read of the log), its
clock, and the agents' tokens. Imports only the domain; every other room builds on it."""
