"""Watches (topic definitions), scoring with evidence, near-duplicate fingerprints and the
features story assignment compares.

Pure functions over plain data: no network, database or Prefect. Import the modules
themselves: this package imports nothing, so that the extraction workers load only what
they score with (classifiers.watches, not the pydantic config model in watch_spec).
"""
