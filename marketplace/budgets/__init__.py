"""Agency budget lines and the ledger of every movement on them."""
