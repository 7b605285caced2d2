"""The append-only audit trail of state changes and money movements."""
