"""Several nodes serving as one (docs/cluster.md): the state they share (bans, failure
scores, connection counts), in this process or in Redis."""
