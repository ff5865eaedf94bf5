"""Victims Code compliance pipeline."""
