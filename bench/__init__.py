"""tokenport benchmark harness: see README.md. Run with `python bench/run.py --quick`."""
