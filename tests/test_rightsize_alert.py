"""PodOverProvisioned: off by default; when a spec turns it on, its generated proofs pass real promtool."""
from __future__ import annotations

import subprocess

import pytest
import yaml

from gen.domains.alerts import POD_OVER_PROVISIONED
from gen.pipeline import compile_specs
from gen.write import to_yaml

SPEC = """\
apiVersion: obsgen/v1
kind: Service
metadata: {name: %(name)s}
spec:
  namespace: exam
  runtime: nodejs
%(resources)s  alerts:
    overProvisioned: {enabled: true, window: 1d}  # the default week costs promtool 7x the time, same rules
"""


def test_off_by_default(compiled, tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "tiny.yaml").write_text(SPEC.split("  alerts:")[0] % {"name": "tiny", "resources": ""})
    (tiny,) = compile_specs(tmp_path / "specs", tmp_path).services
    assert POD_OVER_PROVISIONED.name not in {a.name for a in tiny.rule_file.alerts}
    # Among the examples only the article's service turns it on.
    on = {o.service.name for o in compiled.services
          if POD_OVER_PROVISIONED.name in {a.name for a in o.rule_file.alerts}}
    assert on == {"submission-api"}


@pytest.mark.parametrize("name, resources", [
    ("ksm-api", ""),  # requests from kube-state-metrics
    ("stated-api", "  resources:\n    requests: {cpu: 250m, memory: 512Mi}\n"),  # requests stated in the spec
])
def test_its_proofs_fire_and_stay_silent_under_promtool(tmp_path, promtool, name, resources):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / f"{name}.yaml").write_text(SPEC % {"name": name, "resources": resources})
    (out,) = compile_specs(tmp_path / "specs", tmp_path, proofs=True).services  # rule tests are opt-in
    rules = [r for r in out.rule_file.alerts if r.name == POD_OVER_PROVISIONED.name]
    assert len(rules) == 2  # one per resource
    test_file = dict(out.test_file)
    mine = [t for t in test_file["tests"]
            if any(c["alertname"] == POD_OVER_PROVISIONED.name for c in t["alert_rule_test"])]
    assert len(mine) == 2
    fired = [a for t in mine for c in t["alert_rule_test"] for a in c["exp_alerts"]]
    assert sorted(a["exp_labels"]["resource"] for a in fired) == ["cpu", "memory"]
    assert all(a["exp_labels"]["severity"] == "info" for a in fired)
    # Only this alert's tests: the rest of the file is proven by the example specs' own test files.
    test_file["tests"] = mine
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / f"{name}.rules.yml").write_bytes(to_yaml(out.rule_file.to_dict(), out.service.source))
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / f"{name}.test.yml").write_text(yaml.safe_dump(test_file, sort_keys=False))
    result = subprocess.run(["nice", promtool, "test", "rules", f"{name}.test.yml"], cwd=tmp_path / "tests",
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
