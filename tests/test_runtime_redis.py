"""runtime.RedisState against a real redis-server (started here on a free 127.0.0.1 port):
the breaker machine in Lua agrees with the reference model, several OS processes spending one
budget never exceed it and account every cent, a process killed with SIGKILL strands its hold
for at most its lease, and Redis stopped and restarted mid-run never reaches the request path.
Each test is bounded: a few processes, a few hundred operations, seconds of waiting."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings

import policylang
from policylang import runtime
from policylang.runtime import redisscripts
from runtime_support import SHOP, FakeClock, Scripted
from test_runtime_breaker import configs, operations, replay

ROOT = Path(__file__).resolve().parent.parent
import redis  # noqa: E402  (the `redis` extra: tools/dev-setup installs it)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """A redis-server of our own on 127.0.0.1, without persistence (a restart loses its data,
    the harsher case for the ledgers), stopped and started again at will."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed: tools/dev-setup installs it (Debian package redis-server)"
        self.binary, self.directory, self.port = binary, directory, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start within 10 s"
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = RedisServer(tmp_path_factory.mktemp("redis"))
    running.start()
    yield running
    running.stop()


OPENED: list = []


def opened(url, **options):
    """A RedisState closed when the test ends (its lease renewer stops with it)."""
    OPENED.append(runtime.RedisState(url, **options))
    return OPENED[-1]


@pytest.fixture(autouse=True)
def close_states():
    yield
    while OPENED:
        OPENED.pop().close()


def fresh(server, **options):
    """A RedisState under a prefix no other test uses."""
    return opened(server.url, prefix=f"t-{uuid.uuid4().hex[:8]}", **options)


# ---- the breaker machine in Lua -----------------------------------------------------------------


@settings(max_examples=120, deadline=None)
@given(configs, operations)
def test_breakers_in_redis_agree_with_the_reference_model(server, config, steps):
    clock = FakeClock()
    state = fresh(server, clock=clock)
    replay(state.breakers(config), config, steps, clock)


def test_every_script_compiles(server):
    # a script that does not compile would read as "Redis unreachable" and serve locally forever
    client = redis.Redis(port=server.port)
    for name in ("RESERVE", "SETTLE", "TOTALS", "RENEW", "CATCH_UP", "BREAKER"):
        client.script_load(getattr(redisscripts, name))


def test_a_model_one_process_found_down_is_left_alone_by_the_others(server):
    prefix = f"t-{uuid.uuid4().hex[:8]}"
    one, other = (opened(server.url, prefix=prefix) for _ in range(2))  # two processes' views
    config = runtime.Breaker()
    seen: list[tuple[str, str]] = []
    other.breakers(config).subscribe(lambda key, state: seen.append((key, state)))
    for _ in range(config.failures):
        assert one.breakers(config).allow("acme/small", 0.0)
        one.breakers(config).record("acme/small", 0.0, "unavailable")
    assert not other.breakers(config).allow("acme/small", 0.0)
    assert other.breakers(config).reopens_in("acme/small", 0.0) > 0
    assert seen == [("acme/small", "open")]
    for _ in range(30):  # the window's votes are shared too: 30 answers from one, then failures from the other
        one.breakers(config).allow("acme/big", 0.0)
        one.breakers(config).record("acme/big", 0.0, None)
    for _ in range(29):
        other.breakers(config).allow("acme/big", 0.0)
        other.breakers(config).record("acme/big", 0.0, "server_error")
    assert other.breakers(config).state("acme/big", 0.0) == "closed"  # 29 of 59: under half
    other.breakers(config).allow("acme/big", 0.0)
    other.breakers(config).record("acme/big", 0.0, "server_error")  # 30 of 60: half
    assert one.breakers(config).state("acme/big", 0.0) == "open"


def test_the_window_in_redis_keeps_its_slices_only(server):
    clock = FakeClock(0.0)
    state = fresh(server, clock=clock)
    breakers = state.breakers(runtime.Breaker(buckets=10))
    for index in range(3_000):  # 30 s of answers and a few failures
        clock.now = index * 0.01
        breakers.record("m", clock.now, "timeout" if index % 500 == 0 else None)
    assert redis.Redis(port=server.port).hlen(f"{state.prefix}:breaker:{{m}}:window") <= 2 * 11


# ---- money --------------------------------------------------------------------------------------


def test_ledger_money_is_exact_with_large_budgets(server):
    ledger = fresh(server).ledger("team", Decimal("9000000"))
    first = ledger.reserve(Decimal("8999999.999999999999"))
    assert first is not None and ledger.reserve(Decimal("0.000000000002")) is None
    assert ledger.reserve(Decimal("0.000000000001")) is not None
    ledger.settle(first, Decimal("4000000.123456789012"))
    assert ledger.totals() == (Decimal("4000000.123456789012"), Decimal("0.000000000001"))
    assert ledger.budget == Decimal(9_000_000)
    with pytest.raises(ValueError):
        fresh(server).ledger("too-big", Decimal("10000000"))


def test_the_first_budget_stays_and_a_settled_hold_costs_once(server):
    state = fresh(server)
    ledger = state.ledger("team", Decimal("1"))
    later = opened(server.url, prefix=state.prefix).ledger("team", Decimal("5"))
    assert later.budget == Decimal(1)
    hold = later.reserve(Decimal("0.5"))
    later.settle(hold, Decimal("0.25"))
    later.settle(hold, Decimal("0.25"))
    assert ledger.totals() == (Decimal("0.25"), Decimal(0))


def test_a_settle_whose_reply_was_lost_counts_once(server, monkeypatch):
    from policylang.runtime.redisstate import Unreachable

    state = fresh(server)
    ledger = state.ledger("team", Decimal("1"))
    lost, kept = ledger.reserve(Decimal("0.2")), ledger.reserve(Decimal("0.3"))
    real_run = state.run

    def reply_lost(script, keys, args):
        if script == "SETTLE":
            if args[0] == lost:
                real_run(script, keys, args)  # Redis applied it; the reply never came back
            raise Unreachable()
        return real_run(script, keys, args)

    monkeypatch.setattr(state, "run", reply_lost)
    ledger.settle(lost, Decimal("0.15"))
    ledger.settle(kept, Decimal("0.25"))  # never reached Redis
    assert ledger.totals() == (Decimal("0.4"), Decimal(0))  # caught up: each cost once
    monkeypatch.undo()
    assert opened(server.url, prefix=state.prefix).ledger("team", Decimal(1)).totals() == \
        (Decimal("0.4"), Decimal(0))


def test_a_catch_up_whose_reply_was_lost_is_applied_once_and_what_came_after_too(server, monkeypatch):
    from policylang.runtime.redisstate import Unreachable

    state = fresh(server)
    ledger = state.ledger("team", Decimal("1"))
    first = ledger.reserve(Decimal("0.1"))
    real_run = state.run

    def away(script, keys, args):
        raise Unreachable()

    def reply_lost(script, keys, args):
        if script == "CATCH_UP":
            real_run(script, keys, args)
        raise Unreachable()

    monkeypatch.setattr(state, "run", away)
    ledger.settle(first, Decimal("0.05"))  # a Redis hold settled while away
    second = ledger.reserve(Decimal("0.2"))  # a hold made while away
    monkeypatch.setattr(state, "run", reply_lost)
    ledger.totals()  # the catch-up lands, its reply does not
    monkeypatch.setattr(state, "run", away)
    ledger.settle(second, Decimal("0.15"))  # adopted by the landed batch, ended here
    third = ledger.reserve(Decimal("0.3"))
    monkeypatch.undo()
    assert ledger.totals() == (Decimal("0.2"), Decimal("0.3"))
    view = opened(server.url, prefix=state.prefix).ledger("team", Decimal(1))
    assert view.totals() == (Decimal("0.2"), Decimal("0.3"))
    ledger.release(third)
    assert view.totals() == (Decimal("0.2"), Decimal(0))


WORKER = r'''
import os, random, sys, time
from decimal import Decimal
from policylang import runtime

url, prefix, mode, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rng = random.Random(seed)


def together():  # a barrier in Redis: every worker starts spending once all are ready
    import redis
    client = redis.Redis.from_url(url)
    client.incr(prefix + ":ready")
    deadline = time.time() + 60
    while int(client.get(prefix + ":ready")) < int(os.environ["WORKERS"]) and time.time() < deadline:
        time.sleep(0.005)

if mode == "spend":  # reserve a worst case, wait like a call, settle at most the hold, until the money is gone
    ledger = runtime.RedisState(url, prefix=prefix, lease=5).ledger("team", Decimal(sys.argv[5]))
    together()
    spent, misses = Decimal(0), 0
    while misses < 10:
        worst = Decimal(rng.randint(1_000, 50_000)).scaleb(-6)
        hold = ledger.reserve(worst)
        if hold is None:
            misses += 1
            time.sleep(0.002)
            continue
        time.sleep(rng.random() * 0.002)
        cost = (worst * Decimal(rng.randint(1, 1000)) / 1000).quantize(Decimal("1e-12"))
        ledger.settle(hold, cost)
        spent += cost
    print(spent, flush=True)
elif mode == "session":  # a Router and a Session sharing the budget through Redis
    sys.path.insert(0, sys.argv[6])
    from runtime_support import SHOP, Scripted
    import policylang
    state = runtime.RedisState(url, prefix=prefix, lease=5)
    router = runtime.Router(policylang.loads(SHOP, "shop.route"), Scripted(), state=state, retry=None)
    session = runtime.Session(router, Decimal(sys.argv[5]), key="team", state=state, wait=0)
    together()
    spent, refused = Decimal(0), 0
    while refused < 20:
        try:
            spent += session.run({"task": rng.choice(["chat"] * 9 + ["code"]), "input_tokens": 1000}, "x").cost
        except runtime.Exhausted:
            refused += 1
    print(spent, flush=True)
else:  # hold: reserve, say so, and wait as a call in flight would, until killed
    ledger = runtime.RedisState(url, prefix=prefix, lease=float(sys.argv[6])).ledger("team", Decimal(sys.argv[5]))
    print(ledger.reserve(Decimal("0.75")), flush=True)
    time.sleep(120)
'''


def workers(tmp_path, server, prefix, mode, count, *extra):
    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WORKERS": str(count)}
    return [subprocess.Popen([sys.executable, str(script), server.url, prefix, mode, str(seed), *extra],
                             stdout=subprocess.PIPE, text=True, env=env) for seed in range(count)]


@pytest.mark.slow
@pytest.mark.parametrize("mode, budget", [("spend", "2"), ("session", "0.10")])
def test_processes_spending_one_budget_never_exceed_it(server, tmp_path, mode, budget):
    prefix = f"t-{uuid.uuid4().hex[:8]}"
    procs = workers(tmp_path, server, prefix, mode, 4, budget, str(ROOT / "tests"))
    totals = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        totals.append(Decimal(out.strip()))
    spent, held = opened(server.url, prefix=prefix).ledger("team", Decimal(budget)).totals()
    assert spent == sum(totals)  # every cent each process spent is in Redis, exactly once
    assert spent <= Decimal(budget) and held == 0
    assert spent >= Decimal(budget) * Decimal("0.8")  # and the budget was really used up
    assert sum(1 for total in totals if total > 0) >= 2  # by processes at the same time


@pytest.mark.slow
def test_a_process_killed_mid_run_strands_its_hold_for_at_most_its_lease(server, tmp_path):
    prefix, lease = f"t-{uuid.uuid4().hex[:8]}", 1.5
    ledger = opened(server.url, prefix=prefix).ledger("team", Decimal("1"))
    (proc,) = workers(tmp_path, server, prefix, "hold", 1, "1", str(lease))
    try:
        assert len(proc.stdout.readline().strip()) == 16  # its hold id: $0.75 held
        time.sleep(lease * 2)  # alive, it renews: the hold outlives its first lease
        assert ledger.totals() == (Decimal(0), Decimal("0.75"))
        assert ledger.reserve(Decimal("0.5")) is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        killed = time.monotonic()
        while ledger.totals()[1] != 0:
            assert time.monotonic() - killed <= lease + 0.25, "the killed process's hold outlived its lease"
            time.sleep(0.02)
        assert ledger.reserve(Decimal("1")) is not None  # the whole budget is free again
    finally:
        proc.kill()
        proc.wait(timeout=10)


# ---- Redis goes away and comes back -------------------------------------------------------------


def test_redis_stopped_and_restarted_mid_run_never_reaches_the_request_path(tmp_path, caplog):
    server = RedisServer(tmp_path)
    server.start()
    try:
        state = opened(server.url, prefix="restart", timeout=0.2, retry_interval=0.2)
        call = Scripted()
        router = runtime.Router(policylang.loads(SHOP, "shop.route"), call, state=state, retry=None)
        session = runtime.Session(router, Decimal("10"), key="team", state=state, wait=0)
        signals = {"task": "chat", "input_tokens": 1000}
        costs = [session.run(signals, "x").cost for _ in range(20)]
        assert not state.degraded and state.unavailable == 0
        caplog.set_level(logging.WARNING, logger="policylang.runtime")
        server.stop()
        started = time.monotonic()
        costs += [session.run(signals, "x").cost for _ in range(20)]  # no exception: local state serves
        assert time.monotonic() - started < 5  # and fast: one timeout per retry_interval at most
        assert state.degraded and state.unavailable > 0 and state.outages == 1
        assert "unreachable" in caplog.text and "redis://" not in caplog.text
        assert session.spent == sum(costs)
        server.start()  # empty: a restart without persistence lost every key
        deadline = time.monotonic() + 5
        while state.degraded:  # the background thread tries Redis every retry_interval
            assert time.monotonic() < deadline, "Redis is back but the state did not notice within 5 s"
            time.sleep(0.05)
        costs += [session.run(signals, "x").cost for _ in range(20)]
        assert not state.degraded and "answers again" in caplog.text and state.outages == 1
        fresh_view = opened(server.url, prefix="restart").ledger("team", Decimal("10"))
        assert fresh_view.totals() == (sum(costs), Decimal(0))  # caught up: the spend while away and the lost keys
        assert len(call.calls) == 60
    finally:
        server.stop()


def test_a_silent_redis_stalls_the_request_path_once():
    # a host that accepts connections and never answers (a partition, a hung server): the first
    # command waits out `timeout`, then every run serves locally at once until Redis answers
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        state = opened(f"redis://127.0.0.1:{silent.getsockname()[1]}/0", timeout=0.2, retry_interval=0.3)
        router = runtime.Router(policylang.loads(SHOP, "shop.route"), Scripted(), state=state, retry=None)
        session = runtime.Session(router, Decimal("10"), key="team", state=state, wait=0)
        seconds = []
        for _ in range(40):
            started = time.monotonic()
            session.run({"task": "chat", "input_tokens": 1000}, "x")
            seconds.append(time.monotonic() - started)
            time.sleep(0.02)
        assert state.degraded and state.outages == 1
        assert sum(1 for taken in seconds if taken > 0.1) == 0  # the stall was the Session's, at its start
        assert session.spent == Decimal("0.0002") * 40


@pytest.mark.slow
def test_a_forked_child_renews_its_own_holds_not_its_parents(server):
    state = fresh(server, lease=1.2)
    ledger = state.ledger("team", Decimal("1"))
    parents = ledger.reserve(Decimal("0.25"))
    child = os.fork()
    if child == 0:  # the child: its own background thread, its own holds only
        code = 1
        try:
            hold = ledger.reserve(Decimal("0.5"))
            time.sleep(2.6)  # past two leases: the child's hold lives only if the child renews it
            alive = state._background is not None and state._background.is_alive()
            renewed = ledger.totals()[1] == Decimal("0.75")  # both holds live: each renewed by its own process
            code = 0 if alive and renewed and hold is not None and list(ledger._mine) == [hold] else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    exited = time.monotonic()
    while ledger.totals()[1] != Decimal("0.25"):  # the child's hold lapses within a lease of its exit
        assert time.monotonic() - exited <= 1.2 + 0.25
        time.sleep(0.02)
    assert parents in ledger._mine


def test_importing_the_runtime_imports_no_redis():
    code = "import sys, policylang.runtime as r; assert 'redis' not in sys.modules; r.RedisState; " \
           "assert 'redis' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
