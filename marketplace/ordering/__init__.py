"""Carts, orders and their lifecycle from submission to reconciliation."""
