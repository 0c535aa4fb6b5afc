"""Service personalities of simulated lab devices; each kind is registered in lab.personality."""
