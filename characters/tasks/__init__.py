"""Asynchronous tasks (``/v1/tasks``): avatar videos, run one at a time per server process."""
