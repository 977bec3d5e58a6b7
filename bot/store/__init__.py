"""Everything that is a Redis key: connection, key layout, and one store per kind of state."""
