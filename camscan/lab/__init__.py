"""The isolated lab: network namespaces of simulated devices, for tests, demos and benchmarks."""
