"""Stage 2: check documents against the spec schema and report problems a person can fix."""
from __future__ import annotations

import difflib
import re
from typing import Any, Iterable

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker

from . import schema as spec_schema
from .errors import ObsgenError, Problem
from .load import Document
from .queue_conventions import BUILT_IN, PROGRESS_FOR_CUSTOM
from .units import parse_cpu, parse_duration, parse_percent, parse_size

_PATTERN_MEANING = {
    spec_schema.DNS_LABEL: "must be a Kubernetes name: lowercase letters, digits and '-', "
                           "starting and ending with a letter or digit",
    spec_schema.LABEL_NAME: "must be a Prometheus label name: letters, digits and '_', not starting with a digit",
    spec_schema.LABEL_VALUE: "may hold only letters, digits and _ . : / @ + - (no quotes, braces, '$' or spaces), "
                             "so that it is safe inside PromQL and Grafana",
    spec_schema.METRIC_PREFIX: "must be a valid start of a Prometheus metric name",
    spec_schema.METRIC_NAME: "must be a Prometheus metric name: letters, digits, '_' and ':', not starting with "
                             "a digit",
    spec_schema.OPTIONAL_LABEL_NAME: "must be empty or a Prometheus label name: letters, digits and '_', not "
                                     "starting with a digit",
    spec_schema.OPTIONAL_LABEL_VALUE: "must be empty or hold only letters, digits and _ . : / @ + - (no quotes, "
                                      "braces, '$' or spaces), so that it is safe inside PromQL and Grafana",
}

_YAML_TYPE = {str: "a string", int: "a number", float: "a number", bool: "true/false",
              dict: "a mapping", list: "a list", type(None): "empty (null)"}
_SCHEMA_TYPE = {"string": "a string", "integer": "a whole number", "number": "a number", "boolean": "true/false",
                "object": "a mapping", "array": "a list", "null": "empty"}


def _positive_duration(value: Any) -> bool:
    if isinstance(value, str) and parse_duration(value).seconds <= 0:
        raise ValueError(f"'{value}' is zero; a window must be longer than 0s")
    return True


def _checked(parse):
    def check(value: Any) -> bool:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            parse(value)
        return True
    return check


# RE2, which Prometheus uses, has no look-around or back-references.
_NOT_RE2 = re.compile(r"\(\?[=!<]|\\[1-9]")


def _regex(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    if _NOT_RE2.search(value):
        raise ValueError(f"'{value}' uses look-around or back-references, which Prometheus' RE2 does not support")
    try:
        re.compile(value)
    except re.error as err:
        raise ValueError(f"'{value}' is not a valid regular expression: {err}") from None
    return True


def format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    checker.checks("duration", raises=ValueError)(lambda v: _checked(parse_duration)(v) and _positive_duration(v))
    checker.checks("duration-or-zero", raises=ValueError)(_checked(parse_duration))
    checker.checks("size", raises=ValueError)(_checked(parse_size))
    checker.checks("cpu", raises=ValueError)(_checked(parse_cpu))
    checker.checks("percent", raises=ValueError)(_checked(parse_percent))
    checker.checks("regex", raises=ValueError)(_regex)
    checker.checks("uri", raises=ValueError)(lambda v: True)  # the pattern already says what is allowed
    return checker


def _suggest(word: str, choices: Iterable[str]) -> str:
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    if word.lower() in lowered:
        return lowered[word.lower()]
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else ""


def _describe(value: Any) -> str:
    kind = _YAML_TYPE.get(type(value), type(value).__name__)
    if isinstance(value, (dict, list)) or value is None:
        return kind
    return f"{kind} ({value!r})" if not isinstance(value, bool) else f"{kind} ({str(value).lower()})"


def _problems_for(doc: Document, err: jsonschema.ValidationError) -> list[Problem]:
    path = tuple(err.absolute_path)
    kind = err.validator
    if kind == "additionalProperties":
        allowed = list(err.schema.get("properties", {}))
        problems = []
        for key in sorted(k for k in err.instance if k not in allowed):
            guess = _suggest(key, allowed)
            hint = f"did you mean '{guess}'?" if guess else f"valid keys: {', '.join(allowed)}"
            problems.append(doc.problem(path + (key,), f"unknown key '{key}'", hint, key=True))
        return problems
    if kind == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        return [doc.problem(path, f"missing required key '{missing}'",
                            err.schema.get("properties", {}).get(missing, {}).get("description", ""))]
    if kind == "type":
        wanted = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        wanted_text = " or ".join(_SCHEMA_TYPE[w] for w in wanted if w != "null")
        hint = ""
        if isinstance(err.instance, bool) and "string" in wanted:
            hint = "quote it: YAML reads yes/no/on/off/true/false as booleans"
        elif isinstance(err.instance, (int, float)) and "string" in wanted:
            hint = "quote it"
        return [doc.problem(path, f"expected {wanted_text}, got {_describe(err.instance)}", hint)]
    if kind == "enum":
        options = [str(o) for o in err.validator_value]
        guess = _suggest(str(err.instance), options)
        hint = f"did you mean '{guess}'?" if guess else ""
        return [doc.problem(path, f"{err.instance!r} is not one of: {', '.join(options)}", hint)]
    if kind == "const":
        return [doc.problem(path, f"must be '{err.validator_value}', got {_describe(err.instance)}")]
    if kind == "format":
        cause = str(err.cause) if err.cause else f"{err.instance!r} is not a valid {err.validator_value}"
        return [doc.problem(path, cause)]
    if kind == "pattern":
        fmt = err.schema.get("format")
        if fmt in ("duration", "duration-or-zero", "size", "cpu", "percent"):
            # The format check says the same, in words; report that one.
            return []
        meaning = _PATTERN_MEANING.get(err.validator_value, f"must match {err.validator_value}")
        return [doc.problem(path, f"{err.instance!r} {meaning}")]
    if kind == "propertyNames":
        return [doc.problem(path, f"{err.instance!r}: {err.message}")]
    return [doc.problem(path, err.message)]


def _validator() -> Draft202012Validator:
    return Draft202012Validator(spec_schema.spec_schema(), format_checker=format_checker())


def validate_document(doc: Document, validator: Draft202012Validator | None = None) -> list[Problem]:
    validator = validator or _validator()
    problems: list[Problem] = []
    errors = sorted(validator.iter_errors(doc.data), key=lambda e: [str(p) for p in e.absolute_path])
    for err in errors:
        if err.validator == "propertyNames" and err.context:
            for sub in err.context:
                key = sub.instance
                meaning = _PATTERN_MEANING.get(spec_schema.LABEL_NAME)
                problems.append(doc.problem(tuple(err.absolute_path) + (key,), f"{key!r} {meaning}",
                                            "names starting with '__' are reserved" if str(key).startswith("__")
                                            else "", key=True))
            continue
        problems.extend(_problems_for(doc, err))
    return _dedupe(problems)


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[str] = set()
    out = []
    for p in problems:
        text = p.format()
        if text not in seen:
            seen.add(text)
            out.append(p)
    return sorted(out, key=lambda p: (p.line or 0, p.column or 0))


def _check_unique_names(documents: list[Document]) -> list[Problem]:
    first: dict[str, Document] = {}
    problems = []
    for doc in documents:
        name = doc.data["metadata"]["name"]
        if name in first:
            other = first[name]
            pos = other.position(("metadata", "name"))
            where = f"{other.file}:{pos.line}" if pos else other.file
            problems.append(doc.problem(("metadata", "name"), f"duplicate service name '{name}' (also at {where})",
                                        "service names must be unique; they name the output files"))
        else:
            first[name] = doc
    return problems


def _check_queues(doc: Document) -> list[Problem]:
    """What the schema cannot say about queues: unique names, and settings the convention cannot use."""
    problems = []
    first: dict[str, int] = {}
    for index, queue in enumerate(doc.data.get("spec", {}).get("queues", [])):
        path = ("spec", "queues", index)
        name, exporter = queue["name"], queue.get("exporter", "bullmq")
        if name in first:
            pos = doc.position(("spec", "queues", first[name], "name"))
            where = f"{doc.file}:{pos.line}" if pos else doc.file
            problems.append(doc.problem(path + ("name",), f"duplicate queue name '{name}' (also at {where})",
                                        "each queue gets one dashboard row and one set of alerts"))
        else:
            first[name] = index
        mapping = queue.get("mapping")
        if exporter != "custom" and mapping is not None:
            problems.append(doc.problem(path + ("mapping",), f"mapping is only read with exporter: custom, "
                                        f"not {exporter}", "remove it, or set exporter: custom", key=True))
        if exporter == "custom" and mapping is not None and not any(k in mapping for k in PROGRESS_FOR_CUSTOM):
            problems.append(doc.problem(path + ("mapping",), "custom mapping needs 'completed' (a counter) or "
                                        "'completedSet' (a gauge)", "without either, nothing shows that jobs "
                                        "finish, and a stuck queue cannot be told from a busy one", key=True))
        if queue.get("prefix"):
            label = BUILT_IN[exporter].prefix_label if exporter in BUILT_IN else (mapping or {}).get("prefixLabel", "")
            if not label:
                hint = ("select with `matchers`, for example the labels given to exportPrometheusMetrics()"
                        if exporter == "bullmq"
                        else "set mapping.prefixLabel to the label that holds the prefix")
                problems.append(doc.problem(path + ("prefix",), f"exporter {exporter} has no prefix label", hint,
                                            key=True))
    return problems


def validate(documents: list[Document]) -> None:
    """Raise ObsgenError with every problem in every document, or return quietly."""
    validator = _validator()
    problems: list[Problem] = []
    for doc in documents:
        if not isinstance(doc.data, dict):
            problems.append(doc.problem((), f"a spec must be a mapping, got {_describe(doc.data)}",
                                        "start the document with 'apiVersion: obsgen/v1'"))
            continue
        problems.extend(validate_document(doc, validator))
    if not problems:
        problems.extend(_check_unique_names(documents))
        for doc in documents:
            problems.extend(_check_queues(doc))
    if problems:
        raise ObsgenError(problems)
