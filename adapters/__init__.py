"""Everything that touches the world: stores, application service, CLI."""
