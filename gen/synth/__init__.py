"""Simulated workloads shared by proofs and backtest: scenario files, series notation, queue workloads."""
