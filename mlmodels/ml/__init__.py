"""The Django-free ML engine: algorithms, preprocessing, training, metrics, feature
schemas and input validation, artifacts, CSV reading, profiling and scoring.

Nothing in this package imports Django, so it can be tested, benchmarked and reused
on its own.
"""
