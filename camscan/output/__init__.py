"""Formatters and the audit workflow: JSON, NDJSON, CSV, HTML report, inventory, diff.

Entry points: `document.build_document` (ScanResult → versioned dict), `jsonout.write_json`,
`ndjson.NdjsonWriter` / `ndjson.write_all`, `csv.write_csv` (generic, netbox, snipeit),
`netbox.netbox_bundle`, `glpi.glpi_documents`, `formats.render` (any format as files),
`reader.read_document`,
`report.write_report` (HTML or PDF), `table.print_table`, `exitcodes.exit_code_for`;
`camscan.inventory`, `camscan.diff` and `camscan.progress` beside this package.
"""
