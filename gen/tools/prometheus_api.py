"""A small client for the Prometheus HTTP API (v1), on the standard library alone.

Only what `obsgen probe` and the live tests need: range and instant queries, label values, series,
rules and alerts. Every failure becomes a PrometheusError with a message a user can act on.
"""
from __future__ import annotations

import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Iterable


class PrometheusError(Exception):
    """Prometheus could not be reached, or it refused a request."""


class QueryError(PrometheusError):
    """Prometheus reached, but it rejected the query itself (bad PromQL, too many points)."""


@dataclass(frozen=True)
class Prometheus:
    url: str
    timeout: float = 30.0

    def _get(self, path: str, params: Iterable[tuple[str, str]] = ()) -> Any:
        query = urllib.parse.urlencode(list(params))
        address = f"{self.url.rstrip('/')}{path}" + (f"?{query}" if query else "")
        request = urllib.request.Request(address, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = json.load(response)
        except urllib.error.HTTPError as err:
            body = _error_body(err)
            message = body.get("error") if isinstance(body, dict) else None
            if err.code in (400, 422) and message:
                raise QueryError(message) from None
            raise PrometheusError(f"{self.url}{path}: HTTP {err.code} {err.reason}"
                                  + (f": {message}" if message else "")) from None
        except (urllib.error.URLError, socket.timeout, ConnectionError, TimeoutError) as err:
            reason = getattr(err, "reason", err)
            raise PrometheusError(f"cannot reach Prometheus at {self.url}: {reason}") from None
        except json.JSONDecodeError:
            raise PrometheusError(f"{self.url}{path} did not answer with JSON; is this a Prometheus?") from None
        if not isinstance(body, dict) or body.get("status") != "success":
            message = body.get("error", body) if isinstance(body, dict) else body
            raise PrometheusError(f"{self.url}{path}: {message}")
        return body["data"]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict]:
        data = self._get("/api/v1/query_range", [("query", expr), ("start", _time(start)), ("end", _time(end)),
                                                  ("step", _time(step))])
        return data["result"]

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        params = [("query", expr)] + ([("time", _time(at))] if at is not None else [])
        data = self._get("/api/v1/query", params)
        result = data["result"]
        return result if isinstance(result, list) else [{"value": result}]

    def label_values(self, label: str, matches: Iterable[str] = (), start: float | None = None,
                     end: float | None = None) -> list[str]:
        params = [("match[]", m) for m in matches] + _range(start, end)
        return self._get(f"/api/v1/label/{urllib.parse.quote(label, safe='')}/values", params)

    def series(self, matches: Iterable[str], start: float | None = None, end: float | None = None) -> list[dict]:
        return self._get("/api/v1/series", [("match[]", m) for m in matches] + _range(start, end))

    def rule_groups(self) -> list[dict]:
        return self._get("/api/v1/rules")["groups"]

    def alerts(self) -> list[dict]:
        return self._get("/api/v1/alerts")["alerts"]

    def flags(self) -> dict[str, str]:
        """The command-line flags Prometheus runs with (retention, among others)."""
        return self._get("/api/v1/status/flags")

    def targets(self) -> list[dict]:
        return self._get("/api/v1/targets", [("state", "active")])["activeTargets"]

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url.rstrip('/')}/-/ready", timeout=self.timeout) as response:
                return response.status == 200
        except (urllib.error.URLError, socket.timeout, ConnectionError, TimeoutError):
            return False


def _time(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _range(start: float | None, end: float | None) -> list[tuple[str, str]]:
    out = []
    if start is not None:
        out.append(("start", _time(start)))
    if end is not None:
        out.append(("end", _time(end)))
    return out


def _error_body(err: urllib.error.HTTPError) -> Any:
    try:
        return json.load(err)
    except (json.JSONDecodeError, ValueError, OSError):
        return None
