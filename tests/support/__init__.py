"""Helpers the tests share: real programs, the lab, diagnosis shortcuts."""
