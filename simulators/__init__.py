"""Simulators: a seeded synthetic shop and marketing campaign with known ground truth."""
