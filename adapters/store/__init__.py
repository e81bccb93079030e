"""Event stores: one URL opens SQLite (embedded default) or PostgreSQL."""
