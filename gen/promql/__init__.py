"""PromQL text: selectors and scopes, and the trend builders (floors, steady rise, guards, forecasts)."""
