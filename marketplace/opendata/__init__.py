"""Open data: completed orders published as Open Contracting Data Standard (OCDS) releases."""
