"""Rule-test generation: promtool tests that prove every alert fires and stays silent. Never imported by a build without proofs."""
