"""Checks on generated output before anything is written, and checks across services."""
