"""Validation of documents and NDJSON lines against the JSON Schemas in the repo's schemas/."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from camscan.resources import data_path

SCHEMA_DIR = data_path("schemas")
SCHEMA_FILES = ("scan.schema.json", "ndjson.schema.json")


@cache
def _registry() -> Registry:
    resources = []
    for name in SCHEMA_FILES:
        path = SCHEMA_DIR / name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: schema not found (run from a camscan checkout)")
        schema = json.loads(path.read_text(encoding="utf-8"))
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


@cache
def validator(name: str = "scan.schema.json") -> Draft202012Validator:
    """A validator for one of SCHEMA_FILES, with cross-file references resolved."""
    schema = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    return Draft202012Validator(schema, registry=_registry())


def validate_document(doc: Mapping[str, Any]) -> None:
    """Raise jsonschema.ValidationError unless `doc` is a valid scan document."""
    validator("scan.schema.json").validate(doc)


def validate_ndjson_line(obj: Mapping[str, Any]) -> None:
    """Raise jsonschema.ValidationError unless `obj` is a valid NDJSON line."""
    validator("ndjson.schema.json").validate(obj)
