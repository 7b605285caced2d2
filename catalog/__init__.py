"""What is for sale: vendors' businesses, categories and products. Knows nothing about HTTP."""
