"""People, agencies and the roles that people hold in them."""
