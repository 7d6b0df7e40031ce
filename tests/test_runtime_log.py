"""The decision log loses nothing (section 13, issue 24.5): it follows rotation (`mv`, a deleted
file, `reopen()` from a signal handler), survives a full disk (`/dev/full`), a write cut short
(RLIMIT_FSIZE) and a closed descriptor without raising, holding records in a bounded backlog, and
its readers understand start records: a start with no end is a run its process did not finish."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policylang import runtime
from policylang.runtime.log import JsonlLog, read_log

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full")


def lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ---- rotation -----------------------------------------------------------------------------------


def test_a_rename_moves_the_next_records_to_a_new_file(tmp_path):
    path, rotated = tmp_path / "decisions.jsonl", tmp_path / "decisions.jsonl.1"
    log = JsonlLog(path, watch_every=0)  # a stat before every write
    log({"i": 0})
    log({"i": 1})
    os.rename(path, rotated)  # logrotate without copytruncate: mv, and no new file yet
    log({"i": 2})
    log({"i": 3})
    path.rename(tmp_path / "decisions.jsonl.2")  # a second rotation, and a new file made by someone else
    path.write_text('{"i": "other"}\n', encoding="utf-8")
    log({"i": 4})
    log.close()
    assert lines(rotated) == [{"i": 0}, {"i": 1}]
    assert lines(tmp_path / "decisions.jsonl.2") == [{"i": 2}, {"i": 3}]
    assert lines(path) == [{"i": "other"}, {"i": 4}]
    assert log.errors == 0 and log.dropped == 0


def test_by_default_the_log_checks_for_rotation_at_most_every_millisecond_and_loses_nothing_between(tmp_path):
    path, rotated = tmp_path / "decisions.jsonl", tmp_path / "decisions.jsonl.1"
    log = JsonlLog(path)
    assert log.watch_every == runtime.log.WATCH_EVERY == 0.001
    log({"i": 0})
    os.rename(path, rotated)
    for i in range(1, 4):  # within the millisecond: the moved file may take them, none is lost
        log({"i": i})
    time.sleep(2 * log.watch_every)
    log({"i": 4})  # checked again: the new file
    log.close()
    moved, new = lines(rotated), lines(path)
    assert moved[0] == {"i": 0} and new[-1] == {"i": 4}
    assert moved + new == [{"i": i} for i in range(5)]
    assert list(read_log([rotated, path])) == [{"i": i} for i in range(5)]


def test_watch_every_is_seconds(tmp_path):
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="watch_every"):
            JsonlLog(tmp_path / "x.jsonl", watch_every=bad)


def test_without_watching_only_reopen_moves_to_the_new_file_and_a_signal_handler_may_call_it(tmp_path):
    path, rotated = tmp_path / "decisions.jsonl", tmp_path / "old.jsonl"
    log = JsonlLog(path, watch=False)
    log({"i": 0})
    os.rename(path, rotated)
    log({"i": 1})  # not watched: still the renamed file
    previous = signal.signal(signal.SIGHUP, lambda *_: log.reopen())
    try:
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(0.01)  # the handler runs in the main thread at the next bytecode
    finally:
        signal.signal(signal.SIGHUP, previous)
    log({"i": 2})
    log.close()
    assert lines(rotated) == [{"i": 0}, {"i": 1}]
    assert lines(path) == [{"i": 2}]


# ---- a full disk, a short write, a closed file -------------------------------------------------


def test_a_full_disk_holds_the_records_warns_once_and_writes_them_in_order_when_it_can(tmp_path, caplog):
    path = tmp_path / "decisions.jsonl"
    path.symlink_to("/dev/full")  # every write: ENOSPC, from the kernel
    caplog.set_level(logging.WARNING, logger="policylang.runtime.log")
    log = JsonlLog(path)
    for i in range(5):
        log({"i": i})  # no exception in the request path
    assert log.pending == 5 and log.errors == 5 and log.dropped == 0
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "No space left on device" in warnings[0]
    assert log.flush() == 5 and log.errors == 6
    path.unlink()  # space again: the path is a file that takes writes
    path.write_text("", encoding="utf-8")
    log({"i": 5})
    assert log.pending == 0
    assert lines(path) == [{"i": i} for i in range(6)]
    assert len(caplog.records) == 2 and "writes again" in caplog.records[1].getMessage()
    log.close()


def test_past_its_bound_the_backlog_drops_the_oldest_and_the_file_says_how_many(tmp_path):
    path = tmp_path / "decisions.jsonl"
    path.symlink_to("/dev/full")
    log = JsonlLog(path, backlog=3)
    for i in range(8):
        log({"i": i})
    assert log.pending == 3 and log.dropped == 5
    path.unlink()
    assert log.flush() == 0
    (note, *kept) = lines(path)
    assert note["event"] == "lost" and note["records"] == 5 and "No space left" in note["reason"]
    assert kept == [{"i": 5}, {"i": 6}, {"i": 7}]
    assert list(read_log(path)) == kept  # the note is no run record
    log.close()


def test_without_a_backlog_a_working_file_still_takes_every_record(tmp_path):
    path = tmp_path / "decisions.jsonl"
    with JsonlLog(path, backlog=0) as log:
        log({"i": 0})
        log({"i": 1})
    assert lines(path) == [{"i": 0}, {"i": 1}] and log.dropped == 0


def test_close_with_records_it_cannot_write_counts_them_dropped(tmp_path, caplog):
    path = tmp_path / "decisions.jsonl"
    path.symlink_to("/dev/full")
    log = JsonlLog(path)
    log({"i": 0})
    log.close()
    assert log.dropped == 1 and log.pending == 0
    assert "could not write" in caplog.records[-1].getMessage()


SHORT_WRITE = textwrap.dedent(r"""
    import json, resource, signal, sys
    from policylang.runtime.log import JsonlLog
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # past the limit: EFBIG, not a killed process
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    log = JsonlLog(sys.argv[1])
    log({"i": 0, "pad": "a" * 100})
    resource.setrlimit(resource.RLIMIT_FSIZE, (150, hard))  # the next record fits only in part
    log({"i": 1, "pad": "b" * 100})
    log({"i": 2, "pad": "c" * 100})
    held = (log.pending, log.errors)
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    print(json.dumps([*held, log.flush()]))
""")


def test_a_write_cut_short_leaves_one_torn_line_and_the_record_is_written_whole_again(tmp_path):
    path = tmp_path / "decisions.jsonl"
    done = subprocess.run([sys.executable, "-c", SHORT_WRITE, str(path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [2, 2, 0]
    raw = path.read_bytes().split(b"\n")
    assert raw[1].startswith((b'{"i": 1', b'{"i":1')) and not raw[1].endswith(b"}")  # the part the kernel took
    assert [r["i"] for r in read_log(path, skip_torn=True)] == [0, 1, 2]
    with pytest.raises(ValueError, match=":2: not a JSON record"):
        list(read_log(path))


def test_a_closed_log_and_a_descriptor_closed_behind_its_back_still_write(tmp_path):
    path = tmp_path / "decisions.jsonl"
    log = JsonlLog(path)
    log({"i": 0})
    os.close(log._fd)  # someone closed our descriptor: EBADF, reopened
    log({"i": 1})
    log.close()
    log({"i": 2})  # after close: written by opening the file for it
    assert lines(path) == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert log.errors == 0 and log.dropped == 0


def test_a_record_that_cannot_be_encoded_is_counted_not_raised(tmp_path):
    class Hostile:
        def __repr__(self):
            raise RuntimeError("no")

    path = tmp_path / "decisions.jsonl"
    with JsonlLog(path) as log:
        log({"x": Hostile()})
        log({"i": 1})
    assert log.dropped == 1 and log.errors == 1
    (note, record) = lines(path)
    assert note["event"] == "lost" and note["records"] == 1 and record == {"i": 1}


# ---- start records --------------------------------------------------------------------------------


def test_readers_skip_start_records_and_report_a_start_without_an_end_as_unfinished(tmp_path):
    path = tmp_path / "decisions.jsonl"
    with JsonlLog(path) as log:
        log({"event": "start", "run_id": "a1", "rule": "chat", "signals": {"task": "chat"}})
        log({"event": "start", "run_id": "b2", "rule": "default", "signals": {"task": "code"}})
        log({"event": "end", "run_id": "a1", "rule": "chat", "end": "answered"})
        log({"rule": "old", "end": "answered"})  # a record of a log from before start records
        log({"event": "start", "run_id": "c3", "rule": "legal", "signals": {"task": "legal"}})
    assert [r["rule"] for r in read_log(path)] == ["chat", "old"]
    assert [r.get("event") for r in read_log(path, every=True)] == ["start", "start", "end", None, "start"]
    records = list(read_log(path, unfinished_runs=True))
    assert [(r["rule"], r["end"]) for r in records] == [("chat", "answered"), ("old", "answered"),
                                                       ("default", "unfinished"), ("legal", "unfinished")]
    assert records[2]["event"] == "unfinished" and records[2]["signals"] == {"task": "code"}
    rotated = tmp_path / "decisions.jsonl.1"  # c's end landed in the next file after a rotation
    os.rename(path, rotated)
    with JsonlLog(path) as log:
        log({"event": "end", "run_id": "c3", "rule": "legal", "end": "answered"})
    records = list(read_log([rotated, path], unfinished_runs=True))
    assert [(r["rule"], r["end"]) for r in records] == [("chat", "answered"), ("old", "answered"),
                                                       ("legal", "answered"), ("default", "unfinished")]


KILLED = textwrap.dedent(r"""
    import sys, threading, time
    import policylang
    from policylang import runtime
    policy = policylang.loads('''
    policy killed
    import "std/signals"
    model m { id = "acme/m" tier = 1 input_per_mtok = $1 output_per_mtok = $1 context = 100_000 max_output = 100 latency = 1s }
    route {
      rule too_large when input_tokens > 90_000 -> reject "too large"
      default -> m
    }
    ''', "killed.route")
    log = runtime.JsonlLog(sys.argv[1])
    answered = int(sys.argv[2])

    def call(model, request, *, max_output):
        if request >= answered:
            print("calling", flush=True)
            time.sleep(600)   # the upstream never answers before the kill
        return runtime.Answer("ok", "stop", 10, 5)

    router = runtime.Router(policy, call, log=log)
    for request in range(answered + 1):
        router.run({"input_tokens": 10}, request)
""")


def test_a_process_killed_mid_run_leaves_the_start_of_the_run_it_did_not_finish(tmp_path):
    path = tmp_path / "decisions.jsonl"
    child = subprocess.Popen([sys.executable, "-c", KILLED, str(path), "3"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "calling"
    finally:
        child.kill()  # SIGKILL: no handler, no cleanup
        child.wait(timeout=30)
    records = list(read_log(path, unfinished_runs=True))
    assert [r["end"] for r in records] == ["answered"] * 3 + ["unfinished"]
    starts = [r for r in read_log(path, every=True) if r.get("event") == "start"]
    assert len(starts) == 4 and len({s["run_id"] for s in starts}) == 4
    assert records[-1]["run_id"] == starts[-1]["run_id"] and records[-1]["signals"] == {"input_tokens": 10}


def test_a_router_serves_while_its_log_cannot_write_and_the_log_catches_up(tmp_path):
    import policylang

    from runtime_support import SHOP, Scripted

    path = tmp_path / "decisions.jsonl"
    path.symlink_to("/dev/full")
    log = JsonlLog(path)
    router = runtime.Router(policylang.loads(SHOP, "shop.route"), Scripted(), log=log, retry=None, breaker=None)
    results = [router.run({"task": "code", "input_tokens": 100}, "x") for _ in range(3)]  # nothing raised
    assert all(r.model == "big" for r in results) and log.errors >= 3 and log.pending >= 3
    path.unlink()
    assert log.flush() == 0
    ends = list(read_log(path))
    assert [r["end"] for r in ends] == ["answered"] * 3 and [Decimal(r["cost"]) for r in ends] == [r.cost for r in results]
    log.close()


ROTATED_WRITER = textwrap.dedent(r"""
    import sys, time
    from policylang.runtime.log import JsonlLog
    log = JsonlLog(sys.argv[1])
    print("ready", flush=True)
    for i in range(int(sys.argv[3])):
        log({"writer": sys.argv[2], "i": i})
        time.sleep(0.001)
    print(log.errors, log.dropped, flush=True)
""")


@pytest.mark.slow  # two writer processes and twenty rotations: ~3 s
def test_two_processes_writing_through_rotations_lose_no_record_and_split_none(tmp_path):
    path = tmp_path / "decisions.jsonl"
    writers = [subprocess.Popen([sys.executable, "-c", ROTATED_WRITER, str(path), str(k), "400"],
                                stdout=subprocess.PIPE, text=True) for k in range(2)]
    for writer in writers:
        assert writer.stdout.readline().strip() == "ready"
    rotations = 0
    while any(w.poll() is None for w in writers) and rotations < 20:
        time.sleep(0.03)
        if path.exists():
            rotations += 1
            os.rename(path, tmp_path / f"decisions.jsonl.{rotations}")  # logrotate's move, no copytruncate
    for writer in writers:
        out, _ = writer.communicate(timeout=60)
        assert out.split() == ["0", "0"]  # no failed write, nothing dropped
    files = [tmp_path / f"decisions.jsonl.{k}" for k in range(1, rotations + 1)] + ([path] if path.exists() else [])
    assert rotations >= 3
    seen = [(r["writer"], r["i"]) for r in read_log(files)]  # every line whole: a torn one would raise
    assert sorted(seen) == [(str(k), i) for k in range(2) for i in range(400)]
    for k in ("0", "1"):  # each writer's records in order across the files
        assert [i for w, i in seen if w == k] == list(range(400))


# ---- encoding ------------------------------------------------------------------------------------

_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(), st.decimals(allow_nan=False, allow_infinity=False, places=6),
                    st.frozensets(st.integers(), max_size=3))
_VALUES = st.recursive(_LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.tuples(inner, inner),
                                                        st.dictionaries(st.text(max_size=5), inner, max_size=4)),
                       max_leaves=20)


@given(st.dictionaries(st.text(max_size=8), _VALUES, max_size=6))
def test_a_record_encodes_to_the_values_the_standard_library_writes_whichever_encoder(record):
    from policylang.runtime import log as module

    line = module.encode(record)
    assert line.endswith(b"\n") and b"\n" not in line[:-1]
    expected = module._ENCODER.encode(module._finite(record))  # the standard library's path
    assert json.loads(line) == json.loads(expected)


def test_orjson_encodes_the_plain_records_and_the_standard_library_the_rest():
    pytest.importorskip("orjson")
    from policylang.runtime.log import encode

    assert encode({"cost": Decimal("0.0004785"), "path": ("fast",), "seconds": 1.5e-05}) == \
        b'{"cost":"0.0004785","path":["fast"],"seconds":0.000015}\n'
    assert encode({"x": float("nan"), "y": float("-inf")}) == b'{"x": "nan", "y": "-inf"}\n'  # not orjson's null
    assert encode({1: "a"}) == b'{"1": "a"}\n' and encode({"n": 2 ** 70}) == b'{"n": 1180591620717411303424}\n'
