# SPDX-License-Identifier: MIT
"""A JSON Schema (draft 2020-12) validator for the subset of keywords cmkd's schemas use.

Supported: type, properties, required, additionalProperties, items, enum, const, minimum,
minLength, pattern, format ("date-time": RFC 3339), anyOf, $ref (to "#/..." in the same
document), $defs; the annotations $schema, $id, title, description. Any other keyword is
an error in the schema (SchemaError), so a schema can never rely on a rule that is silently
not checked. Stdlib only.
"""

import re

ANNOTATIONS = {"$schema", "$id", "title", "description", "$defs"}
KEYWORDS = {"type", "properties", "required", "additionalProperties", "items", "enum", "const",
            "minimum", "minLength", "pattern", "format", "anyOf", "$ref"} | ANNOTATIONS
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


class SchemaError(Exception):
    pass


def _is_type(value, t):
    if t == "null":
        return value is None
    if t == "boolean":
        return isinstance(value, bool)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "string":
        return isinstance(value, str)
    if t == "array":
        return isinstance(value, list)
    if t == "object":
        return isinstance(value, dict)
    raise SchemaError(f"unknown type {t!r}")


def _resolve(root, ref):
    if not ref.startswith("#/"):
        raise SchemaError(f"only local references are supported: {ref}")
    node = root
    for part in ref[2:].split("/"):
        if not isinstance(node, dict) or part not in node:
            raise SchemaError(f"unresolvable reference {ref}")
        node = node[part]
    return node


def validate(instance, schema, root=None, path="$"):
    """Returns the list of errors ("$.clusters[0].status: ..."), empty if valid."""
    root = root if root is not None else schema
    if schema is True:
        return []
    if schema is False:
        return [f"{path}: not allowed"]
    unknown = set(schema) - KEYWORDS
    if unknown:
        raise SchemaError(f"unsupported keywords {sorted(unknown)} at {path}")
    errors = []
    if "$ref" in schema:
        errors += validate(instance, _resolve(root, schema["$ref"]), root, path)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(instance, t) for t in types):
            return errors + [f"{path}: {instance!r:.80} is not of type {'/'.join(types)}"]
    if "const" in schema and instance != schema["const"]:
        errors.append(f"{path}: {instance!r:.80} is not {schema['const']!r}")
    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"{path}: {instance!r:.80} is not one of {schema['enum']}")
    if "anyOf" in schema:
        if all(validate(instance, s, root, path) for s in schema["anyOf"]):
            errors.append(f"{path}: {instance!r:.80} matches none of anyOf")
    if isinstance(instance, (int, float)) and not isinstance(instance, bool) and "minimum" in schema:
        if instance < schema["minimum"]:
            errors.append(f"{path}: {instance} < {schema['minimum']}")
    if isinstance(instance, str):
        if "minLength" in schema and len(instance) < schema["minLength"]:
            errors.append(f"{path}: shorter than {schema['minLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], instance):
            errors.append(f"{path}: {instance!r:.80} does not match {schema['pattern']}")
        if schema.get("format") == "date-time" and not DATE_TIME.match(instance):
            errors.append(f"{path}: {instance!r:.80} is not an RFC 3339 date-time")
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in instance:
                errors.append(f"{path}: {name} is required")
        for name, value in instance.items():
            if name in props:
                errors += validate(value, props[name], root, f"{path}.{name}")
            elif "additionalProperties" in schema:
                errors += validate(value, schema["additionalProperties"], root, f"{path}.{name}")
    if isinstance(instance, list) and "items" in schema:
        for i, item in enumerate(instance):
            errors += validate(item, schema["items"], root, f"{path}[{i}]")
    return errors
