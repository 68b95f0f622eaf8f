"""Renderers: pure functions from a diagnosis or a plan to text."""
