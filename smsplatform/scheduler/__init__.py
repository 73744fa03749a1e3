"""The scheduler process: periodic service calls, each in a fresh app context with one commit.

It runs only as ``flask --app wsgi scheduler run`` (its own process), never inside web workers.
Every job is safe to run twice at once (conditional updates, inserts that skip rows already there),
so two scheduler processes, or one restarted mid-job, change nothing twice.
"""
