"""Hot reload: a watched policy serves the last version that passed every check; a broken save
is reported and never served; a Router switches versions between runs, never during one."""

from __future__ import annotations

import threading
import time

import pytest

import policylang
from policylang import runtime
from runtime_support import Scripted

VERSION = """
policy reloading
import "std/signals"
model a {{ id = "acme/a" tier = 1 input_per_mtok = $1 output_per_mtok = $1 context = 100_000 max_output = 1_000 latency = 1s }}
model b {{ id = "acme/b" tier = 2 input_per_mtok = $2 output_per_mtok = $2 context = 100_000 max_output = 1_000 latency = 1s }}
model c {{ id = "acme/c" tier = 3 input_per_mtok = $3 output_per_mtok = $3 context = 100_000 max_output = 1_000 latency = 1s }}
cascade up {{ a -> {top} when confidence < 0.5 }}
route {{
  rule too_large when input_tokens > 90_000 -> reject "too large"
  default -> up
}}
"""
GOOD = VERSION.format(top="b")
FIXED = VERSION.format(top="c")
SYNTAX_ERROR = GOOD.replace("default -> up", "default -> up up")
CHECK_ERROR = GOOD.replace('rule too_large when input_tokens > 90_000 -> reject "too large"\n', "")  # E303
REQUEST = {"input_tokens": 10}


def climbing():
    return Scripted(confidence={"a": 0.1})


def test_a_broken_save_is_reported_and_the_last_good_version_served(tmp_path):
    path = tmp_path / "policy.route"
    path.write_text(GOOD, encoding="utf-8")
    errors, reloads = [], []
    with runtime.watch(path, on_error=errors.append, on_reload=reloads.append, interval=0) as handle:
        routed = runtime.Router(handle, climbing(), assess=runtime.assess.outcomes(), retry=None, breaker=None)
        assert routed.run(REQUEST, "x").path == ("a", "b") and handle.version == 1
        assert handle.refresh() is False  # nothing changed

        for broken, code in ((SYNTAX_ERROR, "E0"), (CHECK_ERROR, "E303")):
            path.write_text(broken, encoding="utf-8")
            assert handle.refresh() is False
            assert isinstance(errors[-1], policylang.PolicyError) and handle.error is errors[-1]
            assert any(d.code.startswith(code) for d in errors[-1].diagnostics)
            assert routed.run(REQUEST, "x").path == ("a", "b") and handle.version == 1
            assert handle.refresh() is False  # reported once, not on every look

        path.write_text(FIXED, encoding="utf-8")
        assert handle.refresh() is True
        assert handle.version == 2 and handle.error is None and reloads == [handle.policy]
        assert routed.run(REQUEST, "x").path == ("a", "c")
    assert len(errors) == 2


def test_a_broken_file_cannot_be_watched_from_the_start(tmp_path):
    path = tmp_path / "policy.route"
    path.write_text(SYNTAX_ERROR, encoding="utf-8")
    with pytest.raises(policylang.PolicyError):
        runtime.watch(path, interval=0)


def test_a_change_to_an_imported_file_reloads(tmp_path):
    (tmp_path / "models.route").write_text(
        'policy models\nmodel m { id = "acme/one" tier = 1 input_per_mtok = $1 output_per_mtok = $1 '
        "context = 100_000 max_output = 1_000 latency = 1s }\n", encoding="utf-8")
    path = tmp_path / "policy.route"
    path.write_text('policy main\nimport "./models.route"\nroute { default -> m }\n', encoding="utf-8")
    with runtime.watch(path, interval=0) as handle:
        routed = runtime.Router(handle, Scripted(), retry=None, breaker=None)
        assert routed.run({}, "x").attempts[0].id == "acme/one"
        text = (tmp_path / "models.route").read_text(encoding="utf-8")
        (tmp_path / "models.route").write_text(text.replace("acme/one", "acme/two"), encoding="utf-8")
        assert handle.refresh() is True
        assert routed.run({}, "x").attempts[0].id == "acme/two"


def wait_for(condition, seconds=60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("watchfiles", [False, True], ids=["polling", "watchfiles"])
def test_reload_under_concurrent_runs(tmp_path, watchfiles):
    path = tmp_path / "policy.route"
    path.write_text(GOOD, encoding="utf-8")
    errors = []
    handle = runtime.watch(path, on_error=errors.append, interval=0.05, use_watchfiles=watchfiles)
    assert handle.mode == ("watchfiles" if watchfiles else "polling")
    shas = {policylang.loads(text, str(path)).ir.source_sha256: top for text, top in ((GOOD, "b"), (FIXED, "c"))}
    records, stop, failures = [], threading.Event(), []
    lock = threading.Lock()

    def log(record):
        if record["event"] == "end":  # a run's start record is written before its first call
            with lock:
                records.append(record)

    routed = runtime.Router(handle, climbing(), assess=runtime.assess.outcomes(), log=log, retry=None, breaker=None)

    def serve():
        try:
            while not stop.is_set():  # the version the handle had as the run began travels with it
                routed.run({**REQUEST, "seen": handle.version}, "x")
                time.sleep(0.001)  # busy, not GIL-bound: the watcher's reload gets its turn
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    threads = [threading.Thread(target=serve) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.1)
        path.write_text(SYNTAX_ERROR, encoding="utf-8")
        assert wait_for(lambda: errors), "the broken save was never reported"
        with lock:
            reported_at = len(records)
        assert wait_for(lambda: len(records) > reported_at), "no run finished once the broken save was seen"
        assert handle.version == 1
        path.write_text(FIXED, encoding="utf-8")
        assert wait_for(lambda: handle.version == 2), "the fixed save was never served"
        # waits on runs, not on a clock: a slow machine still sees runs begun under version 2
        assert wait_for(lambda: any(r["signals"]["seen"] == 2 for r in list(records))), "no run began under v2"
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        handle.close()
    assert not failures
    for record in records:  # each run is wholly one version: its path is that version's climb
        assert record["policy_sha256"] in shas
        assert record["path"] == ["a", shas[record["policy_sha256"]]]
    late = [r for r in records if r["signals"]["seen"] == 2]  # runs that began once v2 was served
    assert late and all(shas[r["policy_sha256"]] == "c" for r in late)
    assert {r["signals"]["seen"] for r in records} == {1, 2}


def test_a_save_that_lands_while_a_load_reads_is_seen_next(tmp_path):
    path = tmp_path / "policy.route"
    path.write_text(GOOD, encoding="utf-8")
    landing = []

    def loader(name):  # the fixed save lands just after the load read the broken one
        try:
            return policylang.load(name)
        finally:
            if landing:
                path.write_text(landing.pop(), encoding="utf-8")

    handle = runtime.Watched(path, interval=0, loader=loader, on_error=lambda error: None)
    path.write_text(SYNTAX_ERROR, encoding="utf-8")
    landing.append(FIXED)
    assert handle.refresh() is False and handle.error is not None
    assert handle.refresh() is True and handle.version == 2
    assert runtime.Router(handle, climbing(), assess=runtime.assess.outcomes(), retry=None,
                          breaker=None).run(REQUEST, "x").path == ("a", "c")
