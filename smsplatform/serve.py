"""``python -m smsplatform.serve [gunicorn options]``: the web server alone, as ``gunicorn -c gunicorn.conf.py``
(production runs it beside one or more ``flask scheduler run``), with the settings checked first.

gunicorn reads ``WEB_CONCURRENCY`` from the environment when it is imported, as the default of its ``workers``,
before gunicorn.conf.py runs: a value that is no number stops ``gunicorn`` with a traceback of its own. Checked
here first, it is named in the one message that names every bad setting, as ``scripts/run`` does.
"""
import os
import sys

from smsplatform.launcher import ROOT, check_settings


def main(gunicorn_options: list[str]) -> int:
    problems = check_settings()
    if problems:
        print(problems, file=sys.stderr, flush=True)
        return 2
    os.execv(sys.executable, [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
                              *gunicorn_options])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
