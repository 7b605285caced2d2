"""Telling people what waits for them: in-app notifications, and e-mail through an outbox."""
