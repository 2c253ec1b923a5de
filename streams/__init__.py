"""The Faust side of slawatch: topics, mapping, agents, the cases table, the deadline index."""
