"""Performance scenarios with their figures: `make bench` runs them all (see README.md)."""
