"""Telling people what waits for them: in-app notifications."""
