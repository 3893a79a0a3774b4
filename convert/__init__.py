"""seekcode convert package."""
