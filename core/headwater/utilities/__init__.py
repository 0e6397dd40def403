"""Small helpers that Prefect 2 code imports from ``prefect.utilities``."""
