"""Formatters and the audit workflow: JSON, NDJSON, CSV, HTML report, inventory, diff."""
