#!/usr/bin/env python3
"""Check Argo Workflows YAML with two independent oracles.

usage: validate_argo.py [--allow-other-kinds] FILE.yaml [FILE.yaml ...]

For every YAML document in every file, prints one line:

    FILE[i]: Kind: ok
    FILE[i]: Kind: FAIL schema: <errors or ok> | hera: <errors or ok>

1. schema: Argo's JSON schema plus the Workflow CRD, through the shared reference
   validator (shared/argo/validate.py) in its `--strict --crd` mode: unknown fields rejected.
   The shared folder is $KFP_SHARED_DIR, else <repo>/../shared.
2. hera: Hera's pydantic models (hera.workflows.models.<Kind>) in pydantic's strict mode on
   the JSON form of the document (so "2" for an integer fails, as it does in Kubernetes).
   Hera's models ignore unknown fields (pydantic's default `extra="ignore"`: they are dropped
   silently), so the input is walked alongside the validated model and every key that no
   model field took is reported as an unknown field. Hera's field-less models (`Plugin`) stand
   for free-form objects and are not looked into.

The YAML loader also rejects duplicate keys in a mapping (PyYAML keeps the last one silently).

Documents whose kind neither oracle knows (ConfigMap, misspelled kinds, ...) are printed as
`FAIL` unless --allow-other-kinds is given (then `skip`): a generator of Argo YAML
should emit nothing else. Exit status: 0 if every document passed, 1 if any failed, 2 on a
usage or setup error. Run it with the oracle venv: `$(scripts/python-env.sh --print-python)`.
"""

from __future__ import annotations

import base64
import datetime
import importlib.util
import json
import os
import pathlib
import sys

try:
    import pydantic
    import yaml
    from hera.workflows import models as hera_models
except ImportError as e:  # pragma: no cover - setup error
    sys.exit(
        f"validate_argo.py: {e}. Run it with the oracle venv's python: "
        "$(scripts/python-env.sh --print-python) tests/oracle/validate_argo.py FILE..."
    )

REPO = pathlib.Path(__file__).resolve().parents[2]
HERA_KINDS = {
    "Workflow": hera_models.Workflow,
    "WorkflowTemplate": hera_models.WorkflowTemplate,
    "ClusterWorkflowTemplate": hera_models.ClusterWorkflowTemplate,
    "CronWorkflow": hera_models.CronWorkflow,
    "WorkflowEventBinding": hera_models.WorkflowEventBinding,
}
MAX_ERRORS = 8  # per oracle and document; the rest are counted
MAX_ERROR_CHARS = 300


def shared_dir() -> pathlib.Path:
    env = os.environ.get("KFP_SHARED_DIR")
    return pathlib.Path(env) if env else REPO.parent / "shared"


def load_schema_oracle():
    """Import shared/argo/validate.py as a module, switched to its --strict mode."""
    path = shared_dir() / "argo" / "validate.py"
    if not path.is_file():
        sys.exit(f"validate_argo.py: no {path}; set KFP_SHARED_DIR to the shared folder")
    spec = importlib.util.spec_from_file_location("argo_shared_validate", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.forbid_unknown(module.DEFS)  # what `--strict` does, before any validator is built
    return module


BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(BaseLoader):
    """SafeLoader that rejects a key repeated in one mapping (merge keys `<<` are allowed)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:  # unhashable key; the base class reports it
                    continue
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key!r}",
                        key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def json_default(value):
    """JSON form of the non-JSON scalars that YAML can produce."""
    if isinstance(value, (datetime.datetime, datetime.date)):
        text = value.isoformat()
        return text.replace("+00:00", "Z") if isinstance(value, datetime.datetime) else text
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON data")


def path_text(loc) -> str:
    out = "$"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def limited(errors: list[str]) -> str:
    """Join at most MAX_ERRORS errors, each cut to about MAX_ERROR_CHARS, keeping its head and
    tail (jsonschema quotes whole instances, e.g. a 1,000-task list before "is too long")."""
    half = MAX_ERROR_CHARS // 2
    cut = [e if len(e) <= MAX_ERROR_CHARS else f"{e[:half]} … {e[-half:]}" for e in errors]
    shown = "; ".join(cut[:MAX_ERRORS])
    if len(errors) > MAX_ERRORS:
        shown += f"; ... and {len(errors) - MAX_ERRORS} more"
    return shown


def unknown_fields(given, value, loc, out: list[str]) -> None:
    """Walk the input alongside Hera's validated model and report the keys no field took.

    A model class without fields (Hera's `Plugin`, ...) stands for a free-form object in Argo's
    API, so its content is not checked; neither are `dict[str, Any]` values.
    """
    if isinstance(value, pydantic.RootModel):
        unknown_fields(given, value.root, loc, out)
    elif isinstance(value, pydantic.BaseModel):
        fields = type(value).model_fields
        if not fields or not isinstance(given, dict):
            return
        by_key = {}
        for name, info in fields.items():
            by_key[name] = name
            if info.alias:
                by_key[info.alias] = name
        for key, item in given.items():
            name = by_key.get(key)
            if name is None:
                out.append(f"{path_text(loc + [key])}: unknown field (Hera's model has none)")
            else:
                unknown_fields(item, getattr(value, name), loc + [key], out)
    elif isinstance(value, dict) and isinstance(given, dict):
        for key, item in given.items():
            if key in value:
                unknown_fields(item, value[key], loc + [key], out)
    elif isinstance(value, (list, tuple)) and isinstance(given, list):
        for i, (item, model_item) in enumerate(zip(given, value, strict=False)):
            unknown_fields(item, model_item, loc + [i], out)


def hera_check(doc: dict) -> list[str] | None:
    """Errors from Hera's model for doc's kind, or None when Hera has no model for it."""
    model = HERA_KINDS.get(doc.get("kind"))
    if model is None:
        return None
    try:
        text = json.dumps(doc, default=json_default)
    except (TypeError, ValueError) as e:
        return [f"$: not JSON data: {e}"]
    try:
        validated = model.model_validate_json(text, strict=True)
    except pydantic.ValidationError as e:
        errors = {}
        for err in e.errors(include_url=False):
            errors.setdefault(path_text(list(err["loc"])), []).append(err["msg"])
        return [f"{where}: {' / '.join(dict.fromkeys(msgs))}" for where, msgs in errors.items()]
    out: list[str] = []
    unknown_fields(json.loads(text), validated, [], out)
    return out


def main(argv: list[str]) -> int:
    options = {a for a in argv if a.startswith("-")}
    files = [a for a in argv if not a.startswith("-")]
    if not files or options - {"--allow-other-kinds"}:
        print(__doc__, file=sys.stderr)
        return 2
    allow_other = "--allow-other-kinds" in options
    schema_oracle = load_schema_oracle()
    failed = False
    for path in files:
        try:
            with open(path) as f:
                docs = [d for d in yaml.load_all(f, Loader=StrictLoader) if d is not None]
        except (OSError, yaml.YAMLError) as e:
            print(f"{path}: error: " + " ".join(str(e).split()))
            failed = True
            continue
        if not docs:
            print(f"{path}: error: no YAML document")
            failed = True
        for i, doc in enumerate(docs):
            where = f"{path}[{i}]" if len(docs) > 1 else path
            if not isinstance(doc, dict) or "kind" not in doc:
                print(f"{where}: ?: FAIL not a Kubernetes object (no kind)")
                failed = True
                continue
            kind = doc["kind"]
            schema_errors = schema_oracle.check(doc, True)  # True: also the CRD (--crd)
            hera_errors = hera_check(doc)
            if schema_errors is None and hera_errors is None:
                if allow_other:
                    print(f"{where}: {kind}: skip (not an Argo kind)")
                else:
                    print(f"{where}: {kind}: FAIL not an Argo kind (--allow-other-kinds skips it)")
                    failed = True
            elif schema_errors or hera_errors:
                failed = True
                parts = []
                for name, errors in (("schema", schema_errors), ("hera", hera_errors)):
                    text = "n/a" if errors is None else (limited(errors) if errors else "ok")
                    parts.append(f"{name}: {text}")
                print(f"{where}: {kind}: FAIL " + " | ".join(parts))
            else:
                print(f"{where}: {kind}: ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
