"""Asset-register exports that the importers accept: NetBox bundle, Snipe-IT, GLPI inventory.

The rules asserted here are read from each importer's source (versions in docs/outputs.md):
NetBox v4.6.8 dcim/forms/bulk_import.py and dcim/models, Snipe-IT v8.1.4
app/Livewire/Importer.php and app/Importer/ItemImporter.php, GLPI inventory_format 1.2.3.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from output_sample import sample_result
from typer.testing import CliRunner

from camscan.cli import app
from camscan.models import ScanResult
from camscan.output.csv import csv_text
from camscan.output.document import build_document
from camscan.output.glpi import glpi_documents
from camscan.output.jsonout import write_json
from camscan.output.netbox import netbox_bundle, read_netbox_ids

GLPI_SCHEMA = Path(__file__).parent / "fixtures" / "glpi-inventory.subset.schema.json"
SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")  # Django's validate_slug, used by NetBox's SlugField
# Required columns of each import form for a new object (fields without blank=True).
NETBOX_REQUIRED = {
    "1-site": ("name", "slug", "status"),
    "2-manufacturers": ("name", "slug"),
    "3-device-roles": ("name", "slug", "color"),
    "4-device-types": ("manufacturer", "model", "slug", "u_height"),
    "5-devices": ("role", "manufacturer", "device_type", "status", "site"),
}
runner = CliRunner()


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def doc_of(result: ScanResult | None = None, site: str | None = "Town Hall") -> dict[str, Any]:
    result = result or sample_result()
    result.site = site
    return build_document(result)


def next_quarter() -> ScanResult:
    """The same devices, every one at a different address (DHCP), one model now known."""
    result = sample_result()
    for n, d in enumerate(result.devices):
        d.ip = f"198.18.1.{100 + n}"
    return result


@pytest.mark.parametrize("site", ["Town Hall", None])
def test_netbox_bundle_refers_only_to_objects_it_creates(site: str | None) -> None:
    files = {k: rows(v) for k, v in netbox_bundle(doc_of(site=site)).items()}
    assert list(files) == list(NETBOX_REQUIRED)  # import order
    for name, required in NETBOX_REQUIRED.items():
        assert files[name], name
        assert all(r[c] for r in files[name] for c in required), name
    sites = {r["name"] for r in files["1-site"]}
    makers = {r["name"] for r in files["2-manufacturers"]}
    roles = {r["name"] for r in files["3-device-roles"]}
    types = {(r["manufacturer"], r["model"]) for r in files["4-device-types"]}
    for dev in files["5-devices"]:
        assert dev["site"] in sites and dev["manufacturer"] in makers and dev["role"] in roles
        # device_type is looked up by model *within* the row's manufacturer
        assert (dev["manufacturer"], dev["device_type"]) in types


def test_netbox_slugs_and_unique_keys_hold() -> None:
    files = {k: rows(v) for k, v in netbox_bundle(doc_of()).items()}
    for name in ("1-site", "2-manufacturers", "3-device-roles", "4-device-types"):
        assert all(SLUG.match(r["slug"]) and len(r["slug"]) <= 100 for r in files[name])
    for name in ("2-manufacturers", "3-device-roles"):
        assert len({r["slug"] for r in files[name]}) == len(files[name])
        assert len({r["name"] for r in files[name]}) == len(files[name])
    per_maker = [(r["manufacturer"], r["slug"]) for r in files["4-device-types"]]
    assert len(set(per_maker)) == len(per_maker)
    assert all(re.fullmatch(r"[0-9a-f]{6}", r["color"]) for r in files["3-device-roles"])
    devices = files["5-devices"]
    assert len({(r["name"], r["site"]) for r in devices}) == len(devices)
    assert len({r["asset_tag"] for r in devices}) == len(devices)


def test_slugs_of_names_that_slugify_alike_stay_distinct() -> None:
    result = sample_result()
    a, b = result.devices[0], result.devices[3]
    a.verdict = replace(a.verdict, model="DS-2CD2385G1-I")
    b.verdict = replace(b.verdict, maker="Hikvision", model="ds 2cd2385g1 i")
    types = rows(netbox_bundle(doc_of(result))["4-device-types"])
    hik = [r["slug"] for r in types if r["manufacturer"] == "Hikvision"]
    assert len(hik) == len(set(hik))


def test_names_and_tags_survive_a_change_of_address() -> None:
    before = rows(netbox_bundle(doc_of())["5-devices"])
    after = rows(netbox_bundle(doc_of(next_quarter()))["5-devices"])
    assert sorted((r["name"], r["asset_tag"]) for r in before) == sorted(
        (r["name"], r["asset_tag"]) for r in after
    )


def test_a_mac_on_two_addresses_still_gives_unique_rows() -> None:
    result = sample_result()
    twin = replace(result.devices[0], ip="198.18.0.250")
    result.devices.append(twin)
    devices = rows(netbox_bundle(doc_of(result))["5-devices"])
    assert len({r["asset_tag"] for r in devices}) == len({r["name"] for r in devices}) == 7
    snipe = rows(csv_text(doc_of(result), "snipeit"))
    assert len({r["Asset Tag"] for r in snipe}) == 7
    assert len({g["deviceid"] for g in glpi_documents(doc_of(result))}) == 7


def test_reimport_updates_known_devices_by_id_and_skips_known_companions() -> None:
    old, new = doc_of(), doc_of(next_quarter())
    first = rows(netbox_bundle(old)["5-devices"])
    export = "ID,Name,Asset tag\r\n" + "".join(
        f"{100 + n},{r['name']},{r['asset_tag']}\r\n" for n, r in enumerate(first[:4])
    )
    ids = read_netbox_ids(export)
    files = netbox_bundle(new, ids=ids, since=old)
    devices = {r["asset_tag"]: r["id"] for r in rows(files["5-devices"])}
    assert len(devices) == 6
    assert {tag: i for tag, i in devices.items() if i} == {
        r["asset_tag"]: str(100 + n) for n, r in enumerate(first[:4])
    }
    for name in ("1-site", "2-manufacturers", "3-device-roles", "4-device-types"):
        assert rows(files[name]) == [], name  # nothing new to create


def test_netbox_ids_export_without_the_needed_columns_is_refused() -> None:
    with pytest.raises(ValueError, match="ID and an Asset tag"):
        read_netbox_ids("Name,Site\r\ncam,Town Hall\r\n")


def test_snipeit_model_names_are_unique_per_maker_and_model() -> None:
    result = sample_result()
    # Two unidentified-model devices of different makers and types: Snipe-IT matches models
    # by name alone, so they must not share one.
    for d in result.devices:
        if d.mac in ("44:19:b6:3a:10:01", "00:1f:54:0a:31:07"):  # Hikvision and Dahua cameras
            d.verdict = replace(d.verdict, model=None)
    table = rows(csv_text(doc_of(result), "snipeit"))
    by_name: dict[str, set[tuple[str, str, str]]] = {}
    for r in table:
        key = (r["Manufacturer"], r["Model Number"], r["Category"] if not r["Model Number"] else "")
        by_name.setdefault(r["Model Name"], set()).add(key)
    assert all(len(keys) == 1 for keys in by_name.values()), by_name
    assert {"Hikvision Camera (model unknown)", "Dahua Camera (model unknown)"} <= set(by_name)


def test_snipeit_headers_are_the_importers_display_names() -> None:
    # Importer.php maps a header to a field when it equals the field's English display name
    # (case-insensitive) or an alias; 'asset_notes' displays as ':item Notes' with item=Asset.
    header = next(csv.reader(io.StringIO(csv_text(doc_of(), "snipeit"))))
    displayed = {
        "asset_tag": "Asset Tag",
        "item_name": "Asset Name",
        "manufacturer": "Manufacturer",
        "asset_model": "Model Name",
        "model_number": "Model Number",
        "category": "Category",
        "serial": "Serial Number",
        "location": "Location",
        "asset_notes": "Asset Notes",
    }
    assert [h for h in header if h != "MAC Address"] == list(displayed.values())
    assert "Notes" not in header


def test_every_glpi_document_validates_against_the_inventory_schema() -> None:
    schema = json.loads(GLPI_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    declared = set(schema["properties"]["content"]["properties"]["network_device"]["properties"])
    docs = glpi_documents(doc_of())
    assert len(docs) == 6
    for g in docs:
        errors = [e.message for e in validator.iter_errors(g)]
        assert errors == [], errors
        # The schema lets unknown keys through; a misspelt one would be silently dropped.
        assert set(g["content"]["network_device"]) <= declared
        assert set(g["content"]) <= set(schema["properties"]["content"]["properties"])
    lorex = next(g for g in docs if g["content"]["network_device"]["ips"] == ["198.18.0.31"])
    nd = lorex["content"]["network_device"]
    assert (nd["type"], nd["manufacturer"], nd["model"], nd["assettag"]) == (
        "Video",
        "Dahua",
        "W461ASC",
        "CS-001F540A3107",
    )


def test_the_schema_check_catches_a_wrong_document() -> None:
    schema = json.loads(GLPI_SCHEMA.read_text(encoding="utf-8"))
    bad = glpi_documents(doc_of())[0]
    bad["content"]["network_device"]["type"] = "Camera"  # not in the schema's pattern
    bad["itemtype"] = "Camera"
    assert len(list(jsonschema.Draft7Validator(schema).iter_errors(bad))) == 2


def test_export_netbox_to_a_file_writes_the_bundle_in_order(tmp_path: Path) -> None:
    scan = tmp_path / "scan.json"
    write_json(doc_of(), scan)
    out = tmp_path / "nb" / "netbox.csv"
    res = runner.invoke(
        app, ["export", str(scan), "-f", "netbox", "-o", str(out), "--only", "hikvision,dahua"]
    )
    assert res.exit_code == 0, res.output
    names = [
        "netbox-1-site.csv",
        "netbox-2-manufacturers.csv",
        "netbox-3-device-roles.csv",
        "netbox-4-device-types.csv",
        "netbox.csv",
    ]
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(names)
    assert (
        "import into NetBox in this order: " + ", ".join(str(out.parent / n) for n in names)
        in res.stderr
    )
    assert {r["name"] for r in rows((out.parent / names[1]).read_text())} == {"Hikvision", "Dahua"}


def test_export_glpi_to_a_directory_writes_one_file_per_device(tmp_path: Path) -> None:
    scan = tmp_path / "scan.json"
    write_json(doc_of(), scan)
    out = tmp_path / "glpi"  # not there yet: the trailing slash asks for a directory
    res = runner.invoke(app, ["export", str(scan), "-f", "glpi", "-o", f"{out}/"])
    assert res.exit_code == 0, res.output
    files = sorted(out.iterdir())
    assert len(files) == 6
    assert {json.loads(f.read_text())["deviceid"] + ".json" for f in files} == {
        f.name for f in files
    }
