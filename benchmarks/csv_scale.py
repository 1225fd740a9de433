"""How long a million-row CSV table takes to import, and how much memory it takes, against plain parsing.

    python benchmarks/csv_scale.py [--rows 1000000]

Writes (once, into the temp folder) a CSV file of ``--rows`` rows: five numeric columns, a text column of three
colours and a class target. Then, each in a fresh subprocess so that peak memory is its own:

* baseline: the standard library's ``csv.reader`` reading the file into a list of rows and nothing else (what
  any pure-Python importer must at least do);
* import: ``load_dataset({"name": "csv", ...})``, NN Studio's real importer (checks, standardising, one-hot,
  labels), counting its progress reports.

Reported: seconds of each, their ratio (import / baseline), the import's peak RSS above what the process held
before (torch and NN Studio imported) and that over the file's size, and how many progress reports the load gave.
Targets: the import in a few seconds, not much slower than plain parsing, memory a small multiple of the file.
The last line is a JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
kind, path = sys.argv[1], sys.argv[2]
sys.path.insert(0, sys.argv[3])
import torch  # noqa: F401  (both sides start with the same libraries in memory)
from nnstudio.core.data import LoadToken, load_dataset
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
before = peak()
reports = []
class Counting(LoadToken):
    def report(self, done, total, what):
        reports.append(done)
        super().report(done, total, what)
t0 = time.perf_counter()
if kind == "baseline":
    import csv
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    count = len(rows) - 1
else:
    data = load_dataset({"name": "csv", "path": path}, token=Counting())
    count = len(data)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "rows": count, "peak_above_start": peak() - before, "reports": len(reports)}))
"""


def write_table(path: Path, rows: int) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    values = rng.normal(size=(rows, 5))
    colours = np.array(["red", "green", "blue"])[rng.integers(0, 3, rows)]
    target = rng.integers(0, 3, rows)
    with open(path, "w") as f:
        f.write("a,b,c,d,e,colour,target\n")
        for start in range(0, rows, 100_000):
            stop = min(rows, start + 100_000)
            f.write("".join(f"{v[0]:.5f},{v[1]:.5f},{v[2]:.5f},{v[3]:.5f},{v[4]:.5f},{c},{t}\n"
                            for v, c, t in zip(values[start:stop], colours[start:stop], target[start:stop])))


def run(kind: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, kind, str(path), str(ROOT)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    path = Path(tempfile.gettempdir()) / f"nnstudio-bench-{args.rows}-rows.csv"
    if not path.exists():
        write_table(path, args.rows)
    size = path.stat().st_size
    baseline, imported = run("baseline", path), run("import", path)
    assert imported["rows"] == baseline["rows"] == args.rows
    figures = {
        "rows": args.rows, "file_mb": round(size / 2**20, 1),
        "baseline_csv_reader_s": round(baseline["seconds"], 2), "import_s": round(imported["seconds"], 2),
        "import_over_baseline": round(imported["seconds"] / baseline["seconds"], 2),
        "baseline_peak_mb": round(baseline["peak_above_start"] / 2**20),
        "import_peak_mb": round(imported["peak_above_start"] / 2**20),
        "import_peak_over_file": round(imported["peak_above_start"] / size, 2),
        "progress_reports": imported["reports"],
    }
    print(f"{args.rows:,} rows, {figures['file_mb']} MB on disk")
    print(f"csv.reader into lists      {figures['baseline_csv_reader_s']:6.2f} s   peak +{figures['baseline_peak_mb']} MB")
    print(f"NN Studio import           {figures['import_s']:6.2f} s   peak +{figures['import_peak_mb']} MB "
          f"({figures['import_peak_over_file']} x the file), {figures['progress_reports']} progress reports")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
