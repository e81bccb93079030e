"""Read-side logic: event -> view, importing only the domain."""
