"""Benchmarks of flask-kashflow-links (see ``bench/README.md``); not part of the package."""
