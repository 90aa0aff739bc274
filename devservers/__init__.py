"""Real servers started beside the service for its tests and benchmarks — moto's S3
server, MLflow's command-line servers — each in a process (and session) of its own on
a free loopback port. Plain Python: the tests wrap these in pytest fixtures (skipping or
failing when a server cannot be installed), the scripts under ``bench/`` use them as
they are. The service itself never imports this package."""
