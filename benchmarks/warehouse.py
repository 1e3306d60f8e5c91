"""``python -m benchmarks.warehouse [--records N]``: the dlt source into DuckDB next to the plain JSONL export.

Both read the same emulator server (another process, seeded once) and run in processes of their
own; it prints rows written and wall time for each, and the machine's load average around them.
Needs the ``dlt`` extra.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_DLT_RUN = """
import sys, dlt, duckdb
from mailkit_async.dlt import mailkit_source
pipeline = dlt.pipeline("bench", destination=dlt.destinations.duckdb(sys.argv[2]), dataset_name="mailkit",
                        pipelines_dir=sys.argv[3])
pipeline.run(mailkit_source(base_url=sys.argv[1]), loader_file_format="jsonl")
steps = pipeline.last_trace.steps
print(", ".join(f"{s.step} {(s.finished_at - s.started_at).total_seconds():.1f} s" for s in steps))
with duckdb.connect(sys.argv[2]) as db:
    print(db.sql("SELECT count(*) FROM mailkit.raw_bounces").fetchall()[0][0])
"""


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.warehouse")
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    env = {
        **os.environ,
        "MAILKIT_CLIENT_ID": "1",
        "MAILKIT_CLIENT_MD5": "emulator",
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "mailkit_async.testing", "--records", str(args.records), "--extra-fields"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split()[-1]
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            env["DLT_DATA_DIR"] = str(work / "dlt-data")
            print(f"{args.records} records from {url}; load average before: {_load()}")
            jsonl = work / "bounces.jsonl"
            seconds, _ = _timed(
                [sys.executable, "-m", "mailkit_async", "bounces", "export", "--format", "jsonl",
                 "--output", str(jsonl), "--base-url", url],
                env,
            )  # fmt: skip
            lines = sum(1 for _ in jsonl.open("rb"))
            print(
                f"jsonl export   : {lines} rows in {seconds:.1f} s ({lines / seconds:,.0f} rows/s); load {_load()}"
            )
            database, pipelines = work / "bounces.duckdb", work / "pipelines"
            seconds, out = _timed([sys.executable, "-c", _DLT_RUN, url, str(database), str(pipelines)], env)
            rows = int(out.splitlines()[-1])
            print(
                f"dlt -> duckdb  : {rows} rows in {seconds:.1f} s ({rows / seconds:,.0f} rows/s); load {_load()}"
            )
            print(f"                 ({out.splitlines()[-2]})")
            seconds, out = _timed([sys.executable, "-c", _DLT_RUN, url, str(database), str(pipelines)], env)
            print(
                f"dlt, next run  : nothing new, {out.splitlines()[-1]} rows in the table after {seconds:.1f} s"
            )
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
