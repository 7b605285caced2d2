"""Receipt of delivered orders, disputes and their resolution."""
