"""The `queues:` part of the spec language: defaults, strict validation, one-line errors that point at the line."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gen.spec.load import load_specs
from gen.spec.model import build_model
from gen.spec.queue_conventions import BULLMQ, BULL_EXPORTER
from gen.spec.schema import spec_schema, walk_fields
from gen.spec.validate import validate

from .conftest import run_obsgen

HEAD = """\
apiVersion: obsgen/v1
kind: Service
metadata: {name: svc}
spec:
  namespace: ns
  runtime: nodejs
  selector: {matchers: {env: prod}}
  queues:
"""


def write_spec(root: Path, queues: str) -> Path:
    (root / "specs").mkdir(parents=True, exist_ok=True)
    path = root / "specs" / "svc.yaml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(queues), "    "))
    return path


def model(root: Path):
    docs = load_specs(root / "specs", root)
    validate(docs)
    return build_model(docs)[0]


def test_every_queue_field_is_documented_with_a_default_and_its_reason():
    queues = spec_schema()["properties"]["spec"]["properties"]["queues"]
    fields = walk_fields(queues["items"], ("queues", "[]"))
    assert len(fields) > 40
    for path, field in fields:
        assert field.get("description"), path
        if path[-1] in ("metric", "name") or "required" in field:
            continue  # a required field has no default; an object with required keys neither
        assert "default" in field, path
    # Every alert threshold explains its default: "Default <value>: <reason>".
    alerts = queues["items"]["properties"]["alerts"]["properties"]
    for name, alert in alerts.items():
        for key, field in alert["properties"].items():
            if key in ("enabled", "severity"):
                continue
            assert "Default" in field["description"] and ":" in field["description"], (name, key)


def test_defaults_fill_a_one_line_queue(tmp_path):
    write_spec(tmp_path, "- name: grading\n")
    service = model(tmp_path)
    (queue,) = service.queues
    assert queue.exporter == "bullmq" and queue.convention is BULLMQ
    assert queue.job == "svc"  # the app exports its own queues
    assert queue.matchers == (("env", "prod"),)  # so the app's own matchers apply
    stuck = queue.alerts["stuck"]
    assert (stuck.enabled, stuck.severity, stuck.for_.text, stuck.param("window").text) == (True, "critical", "5m",
                                                                                            "10m")
    ratio = queue.alerts["failureRatio"]
    assert (ratio.param("threshold").value, ratio.param("minVolume"), ratio.for_.text) == (0.1, 20, "15m")


def test_separate_exporter_job_drops_the_app_matchers(tmp_path):
    write_spec(tmp_path, """\
        - name: email
          exporter: bull-exporter
          job: bull-exporter
          prefix: bull
          matchers: {cluster: eu1}
        """)
    (queue,) = model(tmp_path).queues
    assert queue.convention is BULL_EXPORTER
    assert (queue.job, queue.prefix, queue.matchers) == ("bull-exporter", "bull", (("cluster", "eu1"),))


def test_custom_mapping_becomes_a_convention(tmp_path):
    write_spec(tmp_path, """\
        - name: reports
          exporter: custom
          mapping:
            queueLabel: queue_name
            waiting: {metric: jobs, matchers: {state: waiting}}
            active: {metric: jobs, matchers: {state: active}}
            completed: {metric: jobs_done_total}
            duration: {metric: job_seconds, type: histogram}
        """)
    conv = model(tmp_path).queues[0].convention
    assert conv.queue_label == "queue_name" and conv.prefix_label == ""
    assert conv.source("waiting").matchers == (("state", "waiting"),)
    assert conv.source("waiting").aggregation == "max"  # gauges: every target reads the same Redis state
    assert conv.source("completed").aggregation == "sum"  # in-house counters count per process
    assert conv.duration.kind == "histogram" and conv.duration.scale == 1.0
    assert conv.source("failed") is None


BAD = [
    ("unknown key", "- name: a\n  alerts:\n    stuck: {windw: 5m}\n",
     "specs/svc.yaml:11:17: spec.queues[0].alerts.stuck.windw: unknown key 'windw' (did you mean 'window'?)"),
    ("misspelt exporter", "- name: a\n  exporter: bull-exportr\n",
     "specs/svc.yaml:10:17: spec.queues[0].exporter: 'bull-exportr' is not one of: bullmq, bull-exporter, "
     "bull-prom, custom (did you mean 'bull-exporter'?)"),
    ("unsafe queue name", "- name: 'a\"} or vector(1) #'\n",
     "specs/svc.yaml:9:13: spec.queues[0].name: 'a\"} or vector(1) #' may hold only letters"),
    ("duplicate queue", "- name: a\n- name: b\n- name: a\n",
     "specs/svc.yaml:11:13: spec.queues[2].name: duplicate queue name 'a' (also at specs/svc.yaml:9)"),
    ("custom without mapping", "- name: a\n  exporter: custom\n",
     "specs/svc.yaml:9:7: spec.queues[0]: missing required key 'mapping'"),
    ("custom mapping without a required concept",
     "- name: a\n  exporter: custom\n  mapping:\n    waiting: {metric: w}\n    completed: {metric: c_total}\n",
     "specs/svc.yaml:12:9: spec.queues[0].mapping: missing required key 'active'"),
    ("custom mapping without any sign of completion",
     "- name: a\n  exporter: custom\n  mapping:\n    waiting: {metric: w}\n    active: {metric: x}\n",
     "specs/svc.yaml:11:7: spec.queues[0].mapping: custom mapping needs 'completed' (a counter) or 'completedSet'"),
    ("mapping on a built-in exporter",
     "- name: a\n  exporter: bull-prom\n  mapping:\n    waiting: {metric: w}\n    active: {metric: x}\n",
     "specs/svc.yaml:11:7: spec.queues[0].mapping: mapping is only read with exporter: custom, not bull-prom"),
    ("prefix without a prefix label", "- name: a\n  prefix: bull\n",
     "specs/svc.yaml:10:7: spec.queues[0].prefix: exporter bullmq has no prefix label"),
    ("bad metric name",
     "- name: a\n  exporter: custom\n  mapping:\n    waiting: {metric: '1w'}\n    active: {metric: x}\n"
     "    completed: {metric: c}\n",
     "specs/svc.yaml:12:27: spec.queues[0].mapping.waiting.metric: '1w' must be a Prometheus metric name"),
    ("zero window", "- name: a\n  alerts:\n    drainTime: {threshold: 0s}\n",
     "spec.queues[0].alerts.drainTime.threshold: '0s' is zero"),
]


@pytest.mark.parametrize("case,queues,expected", BAD, ids=[b[0] for b in BAD])
def test_bad_queue_specs_fail_with_one_line_pointing_at_the_problem(tmp_path, case, queues, expected):
    write_spec(tmp_path, queues)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("untouched")
    result = run_obsgen("build", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert expected in lines[0]
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["keep.txt"]
