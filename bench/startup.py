"""Benchmark start-up: `upm-connector --help` and building the daemon's app (importing
connector.api.app and calling create_app on a SQLite file), each in a fresh interpreter,
beside the floor measured in the same run: a fresh interpreter importing only the libraries the
step cannot do without (click for --help; fastapi, pydantic and sqlalchemy for the app).

    python bench/startup.py [--runs 5]

Figures are the median wall time of the runs; the ratio is figure / floor. Also printed: which of
openpyxl and pygal each step loaded (neither should be: they are imported when a spreadsheet is
read or written or a chart drawn).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HELP = "import sys; sys.argv = ['upm-connector', '--help']\nfrom connector.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
HELP_FLOOR = "import click"
APP = """
import sys
from connector.api.app import create_app
from connector.config.settings import Settings
from connector.leads.service import LeadService
from connector.clock import SystemClock
from connector.store.database import Database
db = Database(sys.argv[1])
settings = Settings()
create_app(db, lambda: True, LeadService(db, settings.leads, SystemClock()), settings.http, settings)
"""
APP_FLOOR = "import fastapi, pydantic, sqlalchemy"
LOADED = "\nprint(sorted(m for m in ('openpyxl', 'pygal') if m in sys.modules))"


def timed(code: str, *args: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return time.perf_counter() - start, done.stdout


def median(code: str, runs: int, *args: str) -> float:
    return statistics.median(timed(code, *args)[0] for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        for name, code, floor, args in (("--help", HELP, HELP_FLOOR, ()), ("app build", APP, APP_FLOOR, (url,))):
            timed(code, *args)  # warm the file cache
            figure, baseline = median(code, runs, *args), median(floor, runs)
            loaded = timed("import sys\n" + code + LOADED, *args)[1].strip().splitlines()[-1]
            print(f"{name:10} {figure:6.2f} s   floor {baseline:6.2f} s   ratio {figure / baseline:5.2f}   "
                  f"loads {loaded}")


if __name__ == "__main__":
    main()
