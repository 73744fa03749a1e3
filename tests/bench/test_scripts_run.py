"""Every benchmark script still runs: a small run of each, checked for a clean exit and its floor line.

The figures are not asserted (timings belong in BENCHMARKS.md, not in tests); what this catches is a
script broken by a change elsewhere, as ``addsms_inprocess.py`` was by a new ``messages`` column.
Each script makes its own SQLite database in a temporary directory, so this runs in the SQLite pass
only; its MariaDB path needs an empty database of its own (see BENCHMARKS.md).
"""
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import database_is_mariadb

BENCH = Path(__file__).resolve().parents[2] / "bench"
NOT_SCRIPTS = {"common.py", "bare_endpoint.py", "legacy_addsms_wsgi.py", "worker_gaps.py"}  # imported by the scripts, not run
SMALL_RUNS = {
    "addsms_inprocess.py": ["--calls", "10"],
    "batch_worker_turns.py": ["--items", "1000"],
    "contacts_export.py": ["--contacts", "200"],
    "dashboard_pages.py": ["--count", "2000", "--calls", "2"],
    "contacts_import.py": ["--rows", "200"],
    "contacts_renumber.py": ["--contacts", "200"],
    "import_worker_turns.py": ["--rows", "2000"],
    "legacy_addsms.py": ["--requests", "40", "--rounds", "1"],
    "legacy_batch.py": ["--count", "100", "--repeat", "1"],
    "legacy_getallsms.py": ["--count", "2000", "--calls", "3"],
    "legacy_long_forms.py": ["--megabytes", "0.1"],
    "mobile_pull.py": ["--seconds", "0.5", "--devices", "2", "--connections", "2"],
    "newsletter_fanout.py": ["--contacts", "200", "--rounds", "1"],
    "phone_release.py": ["--count", "500", "--devices", "2"],
    "phone_wakeup_latency.py": ["--phones", "2", "--trials", "3"],
    "queue_release.py": ["--count", "500", "--devices", "2"],
    "sqlite_checkpoints.py": ["--calls", "20", "--rounds", "1", "--pages", "2,10000"],
    "storage_upload.py": ["--count", "2", "--size", "1000"],
    "workbook_limits.py": ["--rows", "200", "--bomb-strings", "1000"],
}

pytestmark = pytest.mark.skipif(database_is_mariadb(), reason="the scripts run on their own SQLite database; "
                                                               "the SQLite pass runs them")


def test_every_script_has_a_small_run():
    assert {path.name for path in BENCH.glob("*.py")} - NOT_SCRIPTS == set(SMALL_RUNS)


@pytest.mark.parametrize("script", sorted(SMALL_RUNS))
def test_script_runs(script, tmp_path):
    run = subprocess.Popen([sys.executable, str(BENCH / script), *SMALL_RUNS[script]], cwd=tmp_path,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        output, errors = run.communicate(timeout=300)
    finally:
        if run.poll() is None:  # Ctrl-C: the script's own cleanup stops the servers it started
            run.send_signal(signal.SIGINT)
            try:
                run.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                run.kill()
                run.communicate()
    assert run.returncode == 0, errors[-3000:]
    assert "floor" in output, output[-3000:]
