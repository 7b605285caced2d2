"""Background work: `flask worker` runs on any number of machines at once."""
