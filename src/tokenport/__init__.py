"""tokenport: a self-hosted token exchange."""

__version__ = "0.1.0"
