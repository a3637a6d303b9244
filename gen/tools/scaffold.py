"""`obsgen init`: the files a new GitOps repository needs to start, and finding a repository's root.

init writes a project file with the default targets only, one example spec, the editor schemas,
a .gitignore and a CI workflow, and never overwrites a file that exists.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import metadata
from importlib.resources import files
from pathlib import Path

from gen.spec.project import PROJECT_FILE, project_schema
from gen.spec.schema import spec_schema

SPEC_SCHEMA_FILE = "schema/obsgen-v1.schema.json"
PROJECT_SCHEMA_FILE = "schema/obsgen-project-v1.schema.json"
WORKFLOW_FILE = ".github/workflows/monitoring.yml"

# Measured on this repository's examples (tests/test_init.py keeps them honest): every target on but the
# committed rule tests (this repository's obsgen.yaml), what those add, and the default targets only.
EXAMPLE_KB_PER_SERVICE = 360
RULE_TESTS_KB_PER_SERVICE = 800
DEFAULT_KB_PER_SERVICE = 90


def version() -> str:
    try:
        return metadata.version("obsgen")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "0+unknown"


def find_root(start: Path) -> Path | None:
    """The nearest directory at or above `start` holding obsgen.yaml or specs/, as git finds .git."""
    for directory in (start, *start.parents):
        if (directory / PROJECT_FILE).is_file() or (directory / "specs").is_dir():
            return directory
    return None


PROJECT_TEXT = f"""\
# yaml-language-server: $schema={PROJECT_SCHEMA_FILE}
# The project file: which targets `obsgen build` writes into out/, and their settings.
# `obsgen schema project` prints every field; the project file reference in obsgen's docs explains them.
#
# Only the default targets are on: plain Prometheus rule files and Grafana dashboard JSON, about
# {DEFAULT_KB_PER_SERVICE} KB per service. `obsgen test` generates the promtool tests that prove every alert
# and runs them without committing them; ruleTests commits them too. Turn on what your delivery needs:
# prometheusRule and dashboardConfigMap for kube-prometheus-stack, kustomization for Argo CD or
# Flux, mixin for jsonnet-bundler. obsgen's own example project, with every target on but ruleTests,
# writes about {EXAMPLE_KB_PER_SERVICE} KB per service into out/; ruleTests adds about {RULE_TESTS_KB_PER_SERVICE} KB.
apiVersion: obsgen/v1
kind: Project
targets:
  rules:
    enabled: true
  ruleTests:
    enabled: false
  dashboards:
    enabled: true
    layout: flat
  # prometheusRule:
  #   enabled: true
  #   namespace: monitoring
  #   labels:
  #     release: kube-prometheus-stack   # what your Prometheus' ruleSelector matches
  # dashboardConfigMap:
  #   enabled: true
  # kustomization:
  #   enabled: true
"""

SPEC_TEXT = f"""\
# yaml-language-server: $schema=../{SPEC_SCHEMA_FILE}
# One service to monitor. Copy this file for each service; `obsgen build` compiles every spec
# under specs/ into out/. Every field has a default: `obsgen schema` prints them all.
apiVersion: obsgen/v1
kind: Service
metadata:
  name: example-api
  team: platform
spec:
  namespace: default
  runtime: nodejs
  # Requests and limits as deployed; leave them out to read them from kube-state-metrics.
  resources:
    requests: {{cpu: 250m, memory: 512Mi}}
    limits: {{cpu: "1", memory: 1Gi}}
  alerts:
    # Where your team keeps runbooks; every alert links to <base>/<AlertName>.
    runbookBaseUrl: https://runbooks.example.com/platform
"""

GITIGNORE_LINES = (".obsgen-staging-*/", "obsgen-diff.md", ".venv/")
GITIGNORE_TEXT = ("# obsgen: a build's staging directory (removed when it ends), and CI's diff summary.\n"
                  + "\n".join(GITIGNORE_LINES) + "\n")


def workflow_text() -> str:
    template = files("gen.tools").joinpath("init_templates/github-actions.yml").read_text()
    return template.replace("{version}", version().split("+")[0])


def starter_files() -> dict[str, str]:
    return {
        PROJECT_FILE: PROJECT_TEXT,
        "specs/example-api.yaml": SPEC_TEXT,
        SPEC_SCHEMA_FILE: json.dumps(spec_schema(), indent=2) + "\n",
        PROJECT_SCHEMA_FILE: json.dumps(project_schema(), indent=2) + "\n",
        ".gitignore": GITIGNORE_TEXT,
        WORKFLOW_FILE: workflow_text(),
    }


@dataclass(frozen=True)
class InitResult:
    written: list[str]
    gitignore_missing: list[str]  # lines to add to a .gitignore that was there already


class AlreadyThere(Exception):
    def __init__(self, paths: list[str]):
        super().__init__(", ".join(paths))
        self.paths = paths


def init(directory: Path) -> InitResult:
    """Write the starter files into `directory`; raise AlreadyThere (writing nothing) if any exists.

    A .gitignore that exists is left alone; the lines it lacks are returned instead.
    """
    wanted = starter_files()
    taken = [rel for rel in wanted if rel != ".gitignore" and (directory / rel).exists()]
    if taken:
        raise AlreadyThere(taken)
    missing: list[str] = []
    gitignore = directory / ".gitignore"
    if gitignore.exists():
        present = {line.strip() for line in gitignore.read_text(errors="replace").splitlines()}
        missing = [line for line in GITIGNORE_LINES if line not in present]
        del wanted[".gitignore"]
    for rel, text in wanted.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x") as handle:  # "x": never overwrite, even if something appeared meanwhile
            handle.write(text)
    return InitResult(list(wanted), missing)
