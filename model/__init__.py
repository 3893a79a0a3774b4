"""seekcode model package."""
