"""The dlt source end to end: the emulator over real sockets, dlt's DuckDB destination on disk.

dlt runs the source's async generators on an asyncio loop of its own, so these tests are plain
functions; the pipelines' state and the database live under `tmp_path`, with telemetry off.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import dlt
import duckdb
import msgspec
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed
from support.clients import CLIENT_ID, MD5, PROTOCOLS, new_emulator
from support.emulators import BreaksAfterPages
from support.stamps import RecordingLimit, StampedEmulator, check_window

from mailkit_async import Bounce, InvalidParameterError, Mailkit, MailkitError, RateLimitError
from mailkit_async._service import BOUNCES
from mailkit_async.dlt import COLUMNS, bounce_resource, mailkit_source
from mailkit_async.testing import Call, Fault, MailkitEmulator

TYPED = list(COLUMNS)


@pytest.fixture(autouse=True)
def quiet_dlt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No telemetry, no config or data outside this test's directory."""
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt-data"))
    monkeypatch.setenv("DLT_PROJECT_DIR", str(tmp_path))
    monkeypatch.delenv("MAILKIT_CLIENT_ID", raising=False)
    monkeypatch.delenv("MAILKIT_CLIENT_MD5", raising=False)


def pipeline(tmp_path: Path, machine: str = "first-machine") -> Any:
    """A pipeline whose local state lives in `machine`: a new name is a fresh machine."""
    return dlt.pipeline(
        pipeline_name="mailkit",
        destination=dlt.destinations.duckdb(str(tmp_path / "bounces.duckdb")),
        dataset_name="mailkit",
        pipelines_dir=str(tmp_path / machine),
    )


def run(pipe: Any, source: Any) -> int:
    """Run, and return how many raw_bounces rows this run loaded."""
    pipe.run(source, loader_file_format="jsonl")
    counts = pipe.last_trace.last_normalize_info.row_counts
    return int(counts.get("raw_bounces", 0))


def table(tmp_path: Path, columns: str = "*") -> list[tuple[Any, ...]]:
    with duckdb.connect(str(tmp_path / "bounces.duckdb"), read_only=True) as con:
        return con.sql(f"SELECT {columns} FROM mailkit.raw_bounces ORDER BY undelivered_log_id").fetchall()


def column_names(tmp_path: Path) -> list[str]:
    with duckdb.connect(str(tmp_path / "bounces.duckdb"), read_only=True) as con:
        return [row[0] for row in con.sql("DESCRIBE mailkit.raw_bounces").fetchall()]


def decoded(url: str, protocol: str, **filters: Any) -> list[dict[str, Any]]:
    """What the plain client reads from the same service: the oracle for the table's contents."""

    async def read() -> list[dict[str, Any]]:
        async with Mailkit(CLIENT_ID, MD5, base_url=url, protocol=protocol) as mk:  # type: ignore[arg-type]
            return [msgspec.structs.asdict(b) async for b in mk.report.raw.bounces(**filters)]

    return anyio.run(read)


def bounce_requests(emulator: MailkitEmulator) -> list[dict[str, object]]:
    return [dict(r.params) for r in emulator.request_log if r.function == BOUNCES]


@pytest.fixture
def emulator() -> MailkitEmulator:
    emu = new_emulator(page_cap=700)
    emu.seed_bounces(2_000, message_ids=(11, 22, 33), gap_every=97, extra_fields=True)
    return emu


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_second_run_on_a_fresh_machine_loads_only_what_is_new(
    tmp_path: Path, emulator: MailkitEmulator, url: str, protocol: str
) -> None:
    assert run(pipeline(tmp_path), mailkit_source(CLIENT_ID, MD5, base_url=url, protocol=protocol)) == 2_000
    first = decoded(url, protocol)
    rows = table(tmp_path, ", ".join(TYPED))
    # Every typed field, with its type, exactly as the client decodes it; pages of 700 records.
    assert rows == [tuple(record[name] for name in TYPED) for record in first]
    assert len(bounce_requests(emulator)) > 3
    last_id = first[-1]["undelivered_log_id"]

    emulator.seed_bounces(300, message_ids=(11, 22, 33), append=True, extra_fields=True)
    emulator.reset_requests()
    # A new pipelines directory: the cursor comes back from the state dlt keeps in the database.
    assert (
        run(
            pipeline(tmp_path, "second-machine"),
            mailkit_source(CLIENT_ID, MD5, base_url=url, protocol=protocol),
        )
        == 300
    )
    assert bounce_requests(emulator)[0]["ID_undelivered_log"] == last_id
    ids = [row[0] for row in table(tmp_path, "undelivered_log_id")]
    assert ids == list(emulator.bounce_ids())
    assert table(tmp_path, ", ".join(TYPED)) == [
        tuple(r[name] for name in TYPED) for r in decoded(url, protocol)
    ]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_interrupted_run_resumes_without_loss_or_duplicates(tmp_path: Path, protocol: str) -> None:
    emu = new_emulator(BreaksAfterPages, page_cap=400)
    # Two pages, then every page refused, past any retry (Retry-After: 0 keeps the retries quick).
    emu.break_after(2, Fault.status(503, retry_after=0), times=None)
    emu.seed_bounces(2_000, gap_every=13)
    with emu.serve() as server:
        source = mailkit_source(CLIENT_ID, MD5, base_url=server.url, protocol=protocol)
        with pytest.raises(PipelineStepFailed) as failed:
            run(pipeline(tmp_path), source)
        chain: list[BaseException] = []
        error: BaseException | None = failed.value
        while error is not None:
            chain.append(error)
            error = error.__cause__ or error.__context__
        assert any(isinstance(e, RateLimitError) for e in chain)
        assert emu.requests[BOUNCES] == 2 + 4  # two pages, then the first failing page sent 4 times

        emu.faults.clear()
        run(pipeline(tmp_path), mailkit_source(CLIENT_ID, MD5, base_url=server.url, protocol=protocol))
    ids = [row[0] for row in table(tmp_path, "undelivered_log_id")]
    assert ids == list(emu.bounce_ids())  # every record, once, in order


def fake_pages(pages: list[list[Bounce]], seen: list[int]) -> Any:
    async def open_pages(after_id: int) -> AsyncIterator[list[Bounce]]:
        seen.append(after_id)
        for page in pages:
            kept = [b for b in page if b.undelivered_log_id > after_id]
            if kept:
                yield kept

    return open_pages


def test_a_field_that_appears_mid_stream_becomes_a_column(tmp_path: Path) -> None:
    plain = [Bounce(undelivered_log_id=i, email=f"a{i}@example.com", message_id=5) for i in (1, 2, 3)]
    richer = [
        Bounce(
            undelivered_log_id=i, email=f"b{i}@example.com", extra={"NEW_FIELD": f"x{i}", "Email": "other"}
        )
        for i in (4, 5)
    ]
    seen: list[int] = []
    resource = bounce_resource("raw_bounces", fake_pages([plain, richer], seen))
    assert run(pipeline(tmp_path), resource) == 5
    columns = column_names(tmp_path)
    assert "new_field" in columns
    # A field dlt would fold onto a typed column keeps its value in a column of its own.
    assert "extra__email" in columns
    assert table(tmp_path, "undelivered_log_id, message_id, email, new_field, extra__email") == [
        (1, 5, "a1@example.com", None, None),
        (2, 5, "a2@example.com", None, None),
        (3, 5, "a3@example.com", None, None),
        (4, None, "b4@example.com", "x4", "other"),
        (5, None, "b5@example.com", "x5", "other"),
    ]
    # The next run asks only for what comes after the last record loaded.
    later = [Bounce(undelivered_log_id=9, extra={"NEW_FIELD": "x9", "LATER": 1})]
    resource = bounce_resource("raw_bounces", fake_pages([plain, richer, later], seen))
    assert run(pipeline(tmp_path), resource) == 1
    assert seen == [0, 5]
    assert "later" in column_names(tmp_path)
    assert table(tmp_path, "undelivered_log_id, new_field, later")[-1] == (9, "x9", 1)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_field_the_client_reads_from_the_wire_reaches_the_table(tmp_path: Path, protocol: str) -> None:
    # Later pages carry a field no documentation names. Whatever the client keeps of each record
    # (typed fields and `extra`) must land in the table under the field's own name.
    emu = new_emulator()
    records = [
        {"ID_UNDELIVERED_LOG": str(i), "EMAIL": f"r{i}@example.com", "ID_MESSAGE": "7", "STATUS": "5.1.1"}
        | ({"DELIVERY_TIME": f"2026-01-0{i - 5} 10:00:00"} if i > 5 else {})
        for i in range(1, 9)
    ]

    def bounces(call: Call) -> list[dict[str, str]]:
        after, limit = int(str(call.params["ID_undelivered_log"])), int(str(call.params["limit"]))
        return [r for r in records if int(r["ID_UNDELIVERED_LOG"]) > after][: min(limit, 3)]

    emu.register_function(BOUNCES, bounces)
    with emu.serve() as server:
        assert (
            run(pipeline(tmp_path), mailkit_source(CLIENT_ID, MD5, base_url=server.url, protocol=protocol))
            == 8
        )
        expected = decoded(server.url, protocol)
    columns = column_names(tmp_path)
    extra_keys = sorted({key for record in expected for key in record["extra"]})
    for key in extra_keys:
        assert key.lower() in columns
    got = table(tmp_path, ", ".join(TYPED + [key.lower() for key in extra_keys]))
    assert got == [
        tuple(r[name] for name in TYPED) + tuple(r["extra"].get(key) for key in extra_keys) for r in expected
    ]
    assert [row[TYPED.index("email")] for row in got] == [f"r{i}@example.com" for i in range(1, 9)]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_one_resource_per_campaign_in_parallel_under_one_rate_limit(tmp_path: Path, protocol: str) -> None:
    emu = new_emulator(StampedEmulator, page_cap=150)
    emu.seed_bounces(1_800, message_ids=(11, 22, 33), send_ids=(5,))
    limit = RecordingLimit(6, per=0.5)
    with emu.serve() as server:
        source = mailkit_source(
            CLIENT_ID, MD5, base_url=server.url, protocol=protocol, rate_limit=limit, message_ids=[11, 22]
        )
        assert sorted(source.resources) == ["raw_bounces_11", "raw_bounces_22"]
        assert run(pipeline(tmp_path), source) == 1_200
        campaigns = [r.params.get("ID_message") for r in emu.request_log if r.function == BOUNCES]
        check_window(limit, emu.times(BOUNCES))
        # Side by side, not one campaign after the other.
        assert campaigns[: campaigns.index(22)].count(11) < campaigns.count(11) - 1

        state = pipeline(tmp_path).state["sources"]["mailkit"]["resources"]
        cursors = {name: state[name]["incremental"]["undelivered_log_id"]["last_value"] for name in state}
        assert cursors == {
            "raw_bounces_11": max(emu.bounce_ids(message_id=11)),
            "raw_bounces_22": max(emu.bounce_ids(message_id=22)),
        }
        emu.seed_bounces(30, message_ids=(11, 22, 33), send_ids=(5,), append=True)
        again = mailkit_source(
            CLIENT_ID, MD5, base_url=server.url, protocol=protocol, rate_limit=limit, message_ids=[11, 22]
        )
        assert run(pipeline(tmp_path), again) == 20
    ids = [row[0] for row in table(tmp_path, "undelivered_log_id")]
    assert ids == sorted([*emu.bounce_ids(message_id=11), *emu.bounce_ids(message_id=22)])
    assert set(table(tmp_path, "DISTINCT message_id")) == {(11,), (22,)}


def test_message_id_and_send_id_are_passed_through(
    tmp_path: Path, emulator: MailkitEmulator, url: str
) -> None:
    emulator.seed_bounces(600, message_ids=(11, 22), send_ids=(1, 2, 3), append=True)
    run(pipeline(tmp_path), mailkit_source(CLIENT_ID, MD5, base_url=url, message_id=22, send_id=2))
    ids = [row[0] for row in table(tmp_path, "undelivered_log_id")]
    assert ids and ids == list(emulator.bounce_ids(message_id=22, send_id=2))
    assert {(r["ID_message"], r["ID_send"]) for r in bounce_requests(emulator)} == {(22, 2)}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"message_id": 1, "message_ids": [2]},
        {"message_ids": []},
        {"message_ids": [1, 1]},
        {"message_ids": [0]},
        {"message_ids": "12"},
        {"message_id": -1},
        {"send_id": "x"},
        {"protocol": "soap"},
        {"rate_limit": 10},
        {"base_url": "ftp://example.com"},
    ],
)
def test_bad_arguments_are_refused_before_anything_is_sent(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameterError):
        mailkit_source(CLIENT_ID, MD5, **kwargs)


def test_building_the_source_opens_no_http_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checking the arguments must not open a connection pool that nothing would ever close."""
    import httpx

    built: list[object] = []
    original = httpx.AsyncClient.__init__

    def counting(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", counting)
    mailkit_source(CLIENT_ID, MD5, base_url="http://127.0.0.1:9", message_ids=[1, 2])
    with pytest.raises(InvalidParameterError):
        mailkit_source(CLIENT_ID, MD5, protocol="soap")  # type: ignore[arg-type]
    assert built == []


def test_missing_credentials_are_refused_at_once() -> None:
    with pytest.raises(MailkitError, match="MAILKIT_CLIENT_ID"):
        mailkit_source()


def test_credentials_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: MailkitEmulator, url: str
) -> None:
    monkeypatch.setenv("MAILKIT_CLIENT_ID", str(CLIENT_ID))
    monkeypatch.setenv("MAILKIT_CLIENT_MD5", MD5)
    assert run(pipeline(tmp_path), mailkit_source(base_url=url)) == 2_000


def test_the_secret_stays_out_of_the_pipeline_files(
    tmp_path: Path, emulator: MailkitEmulator, url: str
) -> None:
    secret = "s3cr3t-md5-value"
    emu = MailkitEmulator(client_id=1, client_md5=secret)
    emu.seed_bounces(50)
    with emu.serve() as server:
        run(pipeline(tmp_path), mailkit_source(1, secret, base_url=server.url))
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_the_readme_example_runs_as_written_and_a_second_run_keeps_the_table_current(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    example = re.search(r"<!-- dlt-example -->\n```python\n(.*?)```", text, re.S)
    assert example is not None
    script = tmp_path / "load_bounces.py"
    script.write_text(example.group(1))
    emu = MailkitEmulator(client_id=1, client_md5="emulator")
    emu.seed_bounces(1_500, message_ids=(11, 22, 33))
    with emu.serve() as server:
        env = {
            **os.environ,
            "MAILKIT_CLIENT_ID": "1",
            "MAILKIT_CLIENT_MD5": "emulator",
            "MAILKIT_BASE_URL": server.url,
        }

        def load() -> str:
            done = subprocess.run(
                [sys.executable, str(script)],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, done.stderr
            return done.stdout

        assert "(1500, 1500)" in load()
        emu.seed_bounces(40, message_ids=(11, 22, 33), append=True)
        emu.reset_requests()
        assert "(1540, 1540)" in load()
    assert dict(emu.request_log[0].params)["ID_undelivered_log"] == 1_500


def test_without_dlt_the_import_says_what_to_install() -> None:
    code = "import sys\nsys.modules['dlt'] = None\nimport mailkit_async\nimport mailkit_async.dlt\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert 'pip install "mailkit-async[dlt]"' in done.stderr
