"""What every mock shares: the admin surface, the id conventions, the launcher."""
