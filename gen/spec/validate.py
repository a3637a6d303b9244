"""Stage 2: check documents against the spec schema and report problems a person can fix."""
from __future__ import annotations

import difflib
import re
from typing import Any, Iterable

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker

from gen.spec import schema as spec_schema
from gen.errors import ObsgenError, Problem, excerpt, quoted
from gen.spec.documents import Document
from gen.spec.http_conventions import BUILT_IN as HTTP_BUILT_IN, bound_text
from gen.spec.queue_conventions import BUILT_IN, PROGRESS_FOR_CUSTOM
from gen.units import parse_cpu, parse_duration, parse_percent, parse_size

_PATTERN_MEANING = {
    spec_schema.DNS_LABEL: "must be a Kubernetes name: lowercase letters, digits and '-', "
                           "starting and ending with a letter or digit",
    spec_schema.LABEL_NAME: "must be a Prometheus label name: letters, digits and '_', not starting with a digit",
    spec_schema.LABEL_VALUE: "may hold only letters, digits and _ . : / @ + - (no quotes, braces, '$' or spaces), "
                             "so that it is safe inside PromQL and Grafana",
    spec_schema.METRIC_PREFIX: "must be a valid start of a Prometheus metric name",
    # selector.pod: the regex itself is checked as a format; this keeps it safe inside PromQL and Grafana.
    r"^[^\"`$\s]+$": "may not hold quotes, backticks, '$' or white space, so that it is safe inside PromQL "
                     "and Grafana",
    spec_schema.METRIC_NAME: "must be a Prometheus metric name: letters, digits, '_' and ':', not starting with "
                             "a digit",
    spec_schema.OPTIONAL_LABEL_NAME: "must be empty or a Prometheus label name: letters, digits and '_', not "
                                     "starting with a digit",
    spec_schema.OPTIONAL_LABEL_VALUE: "must be empty or hold only letters, digits and _ . : / @ + - (no quotes, "
                                      "braces, '$' or spaces), so that it is safe inside PromQL and Grafana",
}
_URL_MEANING = "must be an http:// or https:// URL without spaces, quotes, braces or '$'"

_YAML_TYPE = {str: "a string", int: "a number", float: "a number", bool: "true/false",
              dict: "a mapping", list: "a list", type(None): "empty (null)"}
_SCHEMA_TYPE = {"string": "a string", "integer": "a whole number", "number": "a number", "boolean": "true/false",
                "object": "a mapping", "array": "a list", "null": "empty"}

# Quantities are strings with units; what to call each and an example to copy.
_QUANTITY = {
    "duration": ("a duration", "15m"),
    "duration-or-zero": ("a duration", "15m"),
    "size": ("a size", "2Gi"),
    "cpu": ("a CPU amount", "500m"),
    "percent": ("a percentage", "90%"),
}


def _positive_duration(value: Any) -> bool:
    if isinstance(value, str) and parse_duration(value).seconds <= 0:
        raise ValueError(f"{quoted(value)} is zero; a window must be longer than 0s")
    return True


def _checked(parse):
    # Only text is parsed here: numbers are the type and minimum checks' business, which say it better.
    def check(value: Any) -> bool:
        if isinstance(value, str):
            parse(value)
        return True
    return check


# RE2, which Prometheus uses, has no look-around or back-references.
_NOT_RE2 = re.compile(r"\(\?[=!<]|\\[1-9]")


def _regex(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    if _NOT_RE2.search(value):
        raise ValueError(f"{quoted(value)} uses look-around or back-references, which Prometheus' RE2 does not "
                         "support")
    try:
        re.compile(value)
    except re.error as err:
        raise ValueError(f"{quoted(value)} is not a valid regular expression: {err}") from None
    return True


_SIZE_UNITS = (("", 1), ("Ki", 2**10), ("Mi", 2**20), ("Gi", 2**30), ("Ti", 2**40))
_DURATION_WORDS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def _amount(fmt: str, value: Any) -> float | None:
    """A duration in seconds or a size in bytes, or None when the value is not one (other checks say so)."""
    try:
        if fmt == "size":
            return parse_size(value).value if not isinstance(value, bool) else None
        return parse_duration(value).seconds if isinstance(value, str) else None
    except ValueError:
        return None


def _plural(count: float, word: str) -> str:
    return f"{count:g} {word}" + ("" if count == 1 else "s")


def meaning(fmt: str, amount: float) -> str:
    """What a quantity is, in words: 2.5 hours, 150 milliseconds, 2 bytes, 1.5 GiB."""
    if fmt == "size":
        for unit, factor in reversed(_SIZE_UNITS):
            if unit and amount >= factor:
                return f"{round(amount / factor, 2):g} {unit}B"
        return _plural(amount, "byte")
    if amount < 1:
        return _plural(round(amount * 1000, 3), "millisecond")
    for word, factor in _DURATION_WORDS:
        if amount >= factor:
            return _plural(round(amount / factor, 2), word)
    return _plural(amount, "second")


def _units_in_range(fmt: str, number: float, bounds: list[str]) -> list[str]:
    """`number` with each unit that puts it inside `bounds`, smallest unit first."""
    low, high = (_amount(fmt, b) for b in bounds)
    if fmt == "size":
        candidates = [(f"{number:g}{unit}", number * factor) for unit, factor in _SIZE_UNITS]
    else:
        candidates = [(f"{number:g}{unit}", number * factor) for unit, factor in
                      (("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400))]
        if number != int(number):
            candidates = []
    return [text for text, amount in candidates if low <= amount <= high and amount > 0]


def _range_check(validator, bounds, instance, schema):
    fmt = schema.get("format", "")
    amount = _amount(fmt, instance)
    if amount is None or (amount == 0 and fmt != "duration-or-zero"):
        return  # not a quantity, or zero: the type and format checks say what is wrong
    low, high = (_amount(fmt, b) for b in bounds)
    if low <= amount <= high:
        return
    text = str(instance)
    number = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([A-Za-z]*)", text)
    fits = [c for c in _units_in_range(fmt, float(number.group(1)), bounds) if c != text] if number else []
    hint = f"did you mean {' or '.join(fits[:2])}?" if fits else ""
    error = jsonschema.ValidationError(f"{text} is {meaning(fmt, amount)}; this must be between {bounds[0]} "
                                       f"and {bounds[1]}")
    error.hint = hint
    yield error


SpecValidator = jsonschema.validators.extend(Draft202012Validator, {"x-range": _range_check})


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
    return f"{kind} ({quoted(value)})" if not isinstance(value, bool) else f"{kind} ({str(value).lower()})"


def _pattern_meaning(schema: dict) -> str:
    """What a pattern asks for, in words: the spec language's own, or the schema's `x-meaning`."""
    pattern = schema.get("pattern", "")
    if "x-meaning" in schema:
        return schema["x-meaning"]
    if pattern in _PATTERN_MEANING:
        return _PATTERN_MEANING[pattern]
    optional = re.fullmatch(r"\^\((.*)\)\?\$", pattern)  # ^(X)?$: X or empty
    if optional and f"^{optional.group(1)}$" in _PATTERN_MEANING:
        return _PATTERN_MEANING[f"^{optional.group(1)}$"] + ", or be empty"
    if "https?://" in pattern:
        return _URL_MEANING
    return f"must match the pattern {pattern}"


def _not_allowed(pattern: str, value: str) -> str:
    """The characters of `value` that `pattern` rejects wherever they stand, for patterns of allowed characters."""
    probe = "a"
    if not re.fullmatch(pattern, probe * 3):
        return ""
    bad: list[str] = []
    for char in value:
        if char not in bad and not re.fullmatch(pattern, probe + char + probe):
            bad.append(char)
    return ", ".join(quoted(c) for c in bad[:8])


def _quantity_type_hint(fmt: str, value: Any, bounds: list[str] | None = None) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    if fmt.startswith("duration"):
        fits = _units_in_range("duration", float(value), bounds) if bounds else []
        return f"add a unit: {' or '.join(fits[:3])}" if fits else f"add a unit: {value}s, {value}m or {value}h"
    if fmt == "percent":
        share = value * 100 if 0 <= value <= 1 else value
        return f"write it as '{share:g}%'"
    if fmt == "size":
        fits = [f for f in _units_in_range("size", float(value), bounds) if f != str(value)] if bounds else []
        if fits:
            return f"a bare number is bytes; did you mean {' or '.join(fits[:2])}?"
        return "write a whole number of bytes or a size with a unit, like 1536Mi"
    return ""


def _type_problem(doc: Document, path: tuple, err: jsonschema.ValidationError) -> Problem:
    wanted = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
    value = err.instance
    fmt = err.schema.get("format", "")
    if fmt in _QUANTITY:
        what, example = _QUANTITY[fmt]
        return doc.problem(path, f"expected {what} such as {example}, got {_describe(value)}",
                           _quantity_type_hint(fmt, value, err.schema.get("x-range")))
    wanted_text = " or ".join(_SCHEMA_TYPE[w] for w in wanted if w != "null")
    hint = ""
    if isinstance(value, bool) and "string" in wanted:
        hint = "quote it: YAML reads yes/no/on/off/true/false as booleans"
    elif isinstance(value, (int, float)) and "string" in wanted:
        hint = "quote it"
    elif isinstance(value, str) and "boolean" in wanted and value.lower() in ("true", "false", "yes", "no"):
        hint = "write true or false without quotes"
    elif isinstance(value, str) and {"integer", "number"} & set(wanted) and re.fullmatch(r"-?[0-9]+", value.strip()):
        hint = "remove the quotes"
    elif isinstance(value, float) and "integer" in wanted:
        hint = "use a whole number"
    return doc.problem(path, f"expected {wanted_text}, got {_describe(value)}", hint)


def _required_problem(doc: Document, path: tuple, err: jsonschema.ValidationError, missing: str) -> Problem:
    field = err.schema.get("properties", {}).get(missing, {})
    hint = f"add '{missing}: {field['const']}'" if "const" in field else field.get("description", "")
    return doc.problem(path, f"missing required key '{missing}'", hint)


def _missing_key(err: jsonschema.ValidationError) -> str:
    # jsonschema reports one missing key per error, named in its message.
    for key in err.validator_value:
        if key not in err.instance and f"'{key}'" in err.message:
            return key
    return ""


def _short(value: str, limit: int = 40) -> str:
    return quoted(value, limit)


def _format_cause(cause: BaseException, value: Any) -> str:
    """A format check's message, with the value it quotes (units.py quotes it whole) cut to an excerpt."""
    text = str(cause)
    if isinstance(value, str):
        text = text.replace(f"'{value}'", quoted(value))
    return text


def _elsewhere(root: dict, key: str) -> list[str]:
    """Where else in the schema `key` is a valid key, as dotted paths (`spec.queues`), shortest first."""
    found = []
    for path, _ in spec_schema.walk_fields(root):
        if path[-1] == key:
            found.append(".".join(path).replace(".[]", "[]"))
    return sorted(found, key=lambda p: (p.count(".") + p.count("[]"), p))


def _problems_for(doc: Document, err: jsonschema.ValidationError, root: dict | None = None) -> list[Problem]:
    path = tuple(err.absolute_path)
    kind = err.validator
    if kind == "additionalProperties":
        allowed = list(err.schema.get("properties", {}))
        problems = []
        for key in sorted(k for k in err.instance if k not in allowed):
            guess = _suggest(key, allowed)
            places = _elsewhere(root, key) if root and not guess else []
            if places:
                also = f" (or `{places[1]}`)" if len(places) > 1 else ""
                hint = f"did you mean `{places[0]}`{also}? '{key}' is valid there, not here"
            else:
                hint = f"did you mean '{guess}'?" if guess else f"valid keys: {', '.join(allowed)}"
            problems.append(doc.problem(path + (key,), f"unknown key {quoted(key)}", hint, key=True))
        return problems
    if kind == "required":
        return [_required_problem(doc, path, err, _missing_key(err) or err.message)]
    if kind == "type":
        return [_type_problem(doc, path, err)]
    if kind == "enum":
        options = [str(o) for o in err.validator_value]
        guess = _suggest(str(err.instance), options)
        hint = f"did you mean '{guess}'?" if guess else ""
        return [doc.problem(path, f"{quoted(err.instance)} is not one of: {', '.join(options)}", hint)]
    if kind == "const":
        return [doc.problem(path, f"must be '{err.validator_value}', got {_describe(err.instance)}")]
    if kind == "format":
        cause = _format_cause(err.cause, err.instance) if err.cause else \
            f"{quoted(err.instance)} is not a valid {err.validator_value}"
        return [doc.problem(path, cause)]
    if kind == "pattern":
        fmt = err.schema.get("format")
        if fmt in _QUANTITY:
            # The format check says the same, in words; report that one.
            return []
        if err.instance == "" and err.schema.get("minLength", 0) > 0:
            return []  # minLength says it: empty
        bad = _not_allowed(err.validator_value, err.instance)
        return [doc.problem(path, f"{_short(err.instance)} {_pattern_meaning(err.schema)}",
                            f"not allowed: {bad}" if bad else "")]
    if kind == "minLength":
        return [doc.problem(path, "must not be empty", err.schema.get("description", ""))]
    if kind == "maxLength":
        return [doc.problem(path, f"{_short(err.instance)} is {len(err.instance)} characters long; "
                                  f"the limit is {err.validator_value}")]
    if kind in ("minimum", "exclusiveMinimum"):
        if err.validator_value == 0 and kind == "minimum":
            return [doc.problem(path, f"{quoted(err.instance)} is negative; it must be 0 or more")]
        return [doc.problem(path, f"{quoted(err.instance)} is too small; the minimum is {err.validator_value}")]
    if kind in ("maximum", "exclusiveMaximum"):
        return [doc.problem(path, f"{quoted(err.instance)} is too large; the maximum is {err.validator_value}")]
    if kind == "x-range":
        return [doc.problem(path, err.message, getattr(err, "hint", ""))]
    if kind == "uniqueItems":
        twice = next(item for i, item in enumerate(err.instance) if item in err.instance[:i])
        return [doc.problem(path, f"lists {quoted(twice)} more than once", "remove the repeated entry")]
    # jsonschema's own words quote the whole value: cut.
    return [doc.problem(path, excerpt(err.message, 120))]


def _key_problem(doc: Document, path: tuple, key: Any, names: dict) -> Problem:
    """A bad key in a map whose keys have rules (label names; Kubernetes label keys in the project file)."""
    if "x-meaning" in names:
        return doc.problem(path + (key,), f"{quoted(key)} {names['x-meaning']}", key=True)
    if str(key).startswith("__"):
        return doc.problem(path + (key,), f"label name {quoted(key)} is reserved: names starting with '__' are "
                                          "Prometheus' own", "choose a name without the leading '__'", key=True)
    return doc.problem(path + (key,), f"{quoted(key)} {_PATTERN_MEANING[spec_schema.LABEL_NAME]}", key=True)


def _validator() -> Draft202012Validator:
    return SpecValidator(spec_schema.spec_schema(), format_checker=format_checker())


def _range_checks(data: Any) -> bool:
    spec = data.get("spec") if isinstance(data, dict) else None
    return not (isinstance(spec, dict) and spec.get("rangeChecks") is False)


def validate_document(doc: Document, validator: Draft202012Validator | None = None) -> list[Problem]:
    validator = validator or _validator()
    errors = sorted(validator.iter_errors(doc.data), key=lambda e: [str(p) for p in e.absolute_path])
    if not _range_checks(doc.data):
        errors = [e for e in errors if e.validator != "x-range"]
    # A value of the wrong type fails its pattern, format and enum too; the type error alone says what to fix.
    mistyped = {tuple(e.absolute_path) for e in errors if e.validator == "type"}
    # A misspelt required key is reported once, as the typo, not again as missing.
    misspelt = {(tuple(e.absolute_path), _suggest(key, e.schema.get("properties", {})))
                for e in errors if e.validator == "additionalProperties"
                for key in e.instance if key not in e.schema.get("properties", {})}
    problems: list[Problem] = []
    for err in errors:
        path = tuple(err.absolute_path)
        if "propertyNames" in list(err.schema_path)[-2:-1]:
            problems.append(_key_problem(doc, path, err.instance, err.schema))
            continue
        if err.validator != "type" and path in mistyped:
            continue
        if err.validator == "required" and (path, _missing_key(err)) in misspelt:
            continue
        problems.extend(_problems_for(doc, err, validator.schema))
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


_RESOURCES = (("cpu", parse_cpu, "CPU"), ("memory", parse_size, "memory"))


def _check_resources(doc: Document) -> list[Problem]:
    """Requests and limits that Kubernetes would reject or that make every alert on them meaningless."""
    resources = doc.data["spec"].get("resources", {})
    requests, limits = resources.get("requests", {}), resources.get("limits", {})
    problems = []
    for key, parse, what in _RESOURCES:
        request, limit = requests.get(key), limits.get(key)
        if limit is not None and parse(limit).value == 0:
            problems.append(doc.problem(("spec", "resources", "limits", key), f"a {what} limit of 0 leaves the "
                                        "container nothing", "leave it unset to read the deployed limit from "
                                        "kube-state-metrics"))
        elif request is not None and limit is not None and parse(request).value > parse(limit).value:
            problems.append(doc.problem(("spec", "resources", "requests", key),
                                        f"{what} request {request} is more than the limit {limit}",
                                        "Kubernetes rejects a request above its limit; lower the request or "
                                        "raise the limit"))
    return problems


def _duplicate_name(doc: Document, first: dict[str, int], section: str, index: int, name: str, what: str,
                    why: str) -> list[Problem]:
    """A list entry of spec.<section> named as an earlier one (which `first` remembers), pointing at both."""
    if name not in first:
        first[name] = index
        return []
    pos = doc.position(("spec", section, first[name], "name"))
    where = f"{doc.file}:{pos.line}" if pos else doc.file
    return [doc.problem(("spec", section, index, "name"), f"duplicate {what} name '{name}' (also at {where})", why)]


def _check_queues(doc: Document) -> list[Problem]:
    """What the schema cannot say about queues: unique names, and settings the convention cannot use."""
    problems = []
    first: dict[str, int] = {}
    for index, queue in enumerate(doc.data.get("spec", {}).get("queues", [])):
        path = ("spec", "queues", index)
        name, exporter = queue["name"], queue.get("exporter", "bullmq")
        problems += _duplicate_name(doc, first, "queues", index, name, "queue",
                                    "each queue gets one dashboard row and one set of alerts")
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


def _bucket_bounds(http: dict) -> tuple[list[float], str]:
    """The histogram's bucket bounds and where they come from, in words."""
    if http.get("buckets"):
        return sorted(float(b) for b in http["buckets"]), "spec.http.buckets"
    key = http.get("convention", "express-prom-bundle")
    if key in HTTP_BUILT_IN:
        return list(HTTP_BUILT_IN[key].buckets), f"{key}'s default buckets"
    return [], ""


def _check_http(doc: Document) -> list[Problem]:
    """What the schema cannot say about HTTP and SLOs: unique names, a latency threshold that is a bucket bound,
    settings that only one kind of SLI or convention reads."""
    spec = doc.data.get("spec", {})
    http = spec.get("http") or {}
    problems = []
    convention = http.get("convention", "express-prom-bundle")
    if convention != "custom" and "mapping" in http:
        problems.append(doc.problem(("spec", "http", "mapping"), f"mapping is only read with convention: custom, "
                                    f"not {convention}", "remove it, or set convention: custom", key=True))
    bounds, source = _bucket_bounds(http)
    excluded = set(http.get("excludeRoutes", ("/api/ping", "/ping", "/health", "/healthz", "/livez", "/readyz",
                                              "/metrics")))
    first: dict[str, int] = {}
    for index, slo in enumerate(spec.get("slos", [])):
        path = ("spec", "slos", index)
        name = slo["name"]
        problems += _duplicate_name(doc, first, "slos", index, name, "SLO",
                                    "each SLO gets its own records, alerts and panels, told apart by name")
        objective = parse_percent(slo["objective"]).value
        if not 0 < objective < 1:
            problems.append(doc.problem(path + ("objective",), f"an objective of {slo['objective']} leaves "
                                        f"{'no' if objective >= 1 else 'every request as'} error budget",
                                        "write a share of good requests between 0% and 100%, like 99.9%"))
        sli, threshold = slo.get("sli", "availability"), slo.get("threshold")
        if sli == "latency" and threshold is None:
            problems.append(doc.problem(path, "a latency SLO needs a threshold",
                                        "add 'threshold:' with one of the histogram's bucket bounds, like 300ms"))
        elif sli != "latency" and threshold is not None:
            problems.append(doc.problem(path + ("threshold",), "threshold is only read by latency SLOs",
                                        "remove it, or set sli: latency", key=True))
        elif threshold is not None:
            seconds = parse_duration(threshold).seconds
            listed = ", ".join(bound_text(b) for b in bounds)
            if not bounds:
                problems.append(doc.problem(path + ("threshold",), "the custom histogram's bucket bounds are "
                                            "unknown", "list them in spec.http.buckets (seconds)"))
            elif not any(abs(b - seconds) < 1e-9 for b in bounds):
                problems.append(doc.problem(
                    path + ("threshold",), f"{threshold} is not a bucket bound of the histogram; its bounds "
                    f"({source}) are {listed}",
                    "pick one of those bounds, or list the buckets the app really configures in spec.http.buckets"))
        if slo.get("route") and slo["route"] in excluded:
            problems.append(doc.problem(path + ("route",), f"route {slo['route']} is in spec.http.excludeRoutes, "
                                        "so the SLO would count no request",
                                        "choose another route, or take it out of excludeRoutes"))
    if http.get("timeScale", 1) > 1 and spec.get("rangeChecks", True):
        problems.append(doc.problem(("spec", "http", "timeScale"), "timeScale compresses SLO windows for test beds "
                                    "only", "leave it at 1, or set spec.rangeChecks: false for a test bed"))
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
        # These read values the schema has already checked, so they run only on valid documents.
        for doc in documents:
            problems.extend(_check_resources(doc))
        problems.extend(_check_unique_names(documents))
        for doc in documents:
            problems.extend(_check_queues(doc))
            problems.extend(_check_http(doc))
    if problems:
        raise ObsgenError(problems)
