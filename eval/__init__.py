"""Grounding evals: datasets, a runner that drives the service, metrics and reports."""
