"""System tests: Slack and database faults, races, several processes, stress."""
