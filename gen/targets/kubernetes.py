"""Kubernetes objects as obsgen writes them: fixed key order, sorted labels, where they came from."""
from __future__ import annotations

from typing import Any

from gen.spec.model import Service
from gen.spec.project import KubernetesMeta

DIRECTORY = "kubernetes"
MANAGED_BY = {"app.kubernetes.io/managed-by": "obsgen"}
SOURCE_ANNOTATION = "obsgen.dev/spec"


def kubernetes_object(api_version: str, kind: str, name: str, namespace: str, labels: dict[str, str],
                      annotations: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    """apiVersion, kind, metadata, then the body: the order people expect when they read one."""
    metadata = {
        "name": name,
        "namespace": namespace,
        "labels": dict(sorted(labels.items())),
        "annotations": dict(sorted(annotations.items())),
    }
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}


def manifest(api_version: str, kind: str, name: str, service: Service, meta: KubernetesMeta, body: dict[str, Any],
             labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """One service's object. The project's labels and annotations come last, so they win over obsgen's own."""
    all_labels = {**MANAGED_BY, "app.kubernetes.io/name": service.name, **(labels or {}), **dict(meta.labels)}
    all_annotations = {SOURCE_ANNOTATION: service.source, **(annotations or {}), **dict(meta.annotations)}
    return kubernetes_object(api_version, kind, name, meta.namespace, all_labels, all_annotations, body)
