#!/usr/bin/env bash
# Regenerates examples/sample/ from a scan of the lab (run as root from the repository root, with
# the lab installed: pip install -e '.[lab]')
# Everything runs inside the lab's own namespaces; the lab is taken down at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
out=examples/sample
mkdir -p "$out"
export CAMSCAN_LAB_PREFIX=cssample-
camscan() { python3 -m camscan "$@"; }
trap 'camscan lab down >/dev/null 2>&1 || true' EXIT
camscan lab up >/dev/null 2>&1
scan() { camscan lab exec -- python3 -m camscan scan 198.18.0.0/24 --interface eth0 --quiet \
           --site "Example Council, Town Hall" --operator "IT audit" "$@"; }
scan -o "$out/scan.json" --report "$out/report.html"
scan --format ndjson -o "$out/scan.ndjson"
# The register formats, converted from the saved scan as a user would (camscan export).
camscan export "$out/scan.json" --format csv -o "$out/csv.csv"
camscan export "$out/scan.json" --format netbox --only hikvision,dahua -o "$out/netbox.csv"
camscan export "$out/scan.json" --format snipeit -o "$out/snipeit.csv"
camscan export "$out/scan.json" --format glpi -o "$out/glpi.jsonl"
# Next quarter: two devices unplugged (their links taken down in the lab), then a second scan
# and the diff a removal programme reports on.
for dev in hik-cam-stairs dahua-cam-yard; do ip -n "${CAMSCAN_LAB_PREFIX}d-$dev" link set eth0 down; done
scan -o "$out/scan-next-quarter.json"
camscan diff "$out/scan.json" "$out/scan-next-quarter.json" > "$out/diff.json" 2>/dev/null
echo "samples written to $out" >&2
