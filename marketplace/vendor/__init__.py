"""The vendor's desk: listings and incoming orders."""
