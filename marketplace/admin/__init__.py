"""The curator's back office: vendors to verify and government users."""
