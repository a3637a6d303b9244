"""Specs in, typed services out: load YAML and Jsonnet, the schema, validation, the model, the project file."""
