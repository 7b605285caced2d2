"""The catalogue as agency staff browse it."""
