"""Newsletters ("pakets"): build, schedule, fan-out, progress."""
