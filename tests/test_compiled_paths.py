"""The compiled module's fast paths decide as the interpreter does (section 5).

The random policies are tests/policygen_paths.py's, which tests/test_interpreter_paths.py uses too.

A compiled module without validation reads each signal, with its default, just before the
first rule on the request's path that tests it, and never twice; past `LAZY_RULES` rules it
reads them up front and shares the validated path's rules. Decimal constants that an int or a
float holds exactly are compared as that literal. Its tables (rule names, what each rule
decides, how it climbs, its cap) are written as strings read at import. Each of these could
answer differently from the interpreter, so the policies here have rules reading different
signals of every kind, defaults, required signals, cascades whose edges read signals, and
sometimes a key enough rules test to be dispatched on; requests leave optional signals out,
give money and durations as ints, floats and Decimals, and, spoiled, carry bad values in
signals no rule on the path reads, which the validating path must still refuse, the first in
declaration order named. Every property runs against each layout: as shipped (a keyed route's chains reading lazily
without validation, `LAZY_CHAINS`), with the chains taking every signal as an argument, and
past `LAZY_RULES`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import policylang
from policylang import Policy, RequestError
from policylang.backends.python import codegen

import strategies as gen
from conftest import examples
from policygen_paths import policies


class Counting(dict):  # type: ignore[type-arg]
    """A request that counts how often the module reads each key."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.reads: dict[str, int] = {}

    def get(self, key: Any, default: Any = None) -> Any:
        self.reads[key] = self.reads.get(key, 0) + 1
        return super().get(key, default)

    def __getitem__(self, key: Any) -> Any:
        self.reads[key] = self.reads.get(key, 0) + 1
        return super().__getitem__(key)


@contextmanager
def layout(limit: int, chains: bool) -> Iterator[None]:
    saved = codegen.LAZY_RULES, codegen.LAZY_CHAINS
    codegen.LAZY_RULES, codegen.LAZY_CHAINS = limit, chains
    try:
        yield
    finally:
        codegen.LAZY_RULES, codegen.LAZY_CHAINS = saved


def modules(policy: Policy) -> list[types.ModuleType]:
    """The policy's module three times: as shipped, with LAZY_CHAINS flipped, and past
    LAZY_RULES (every signal read up front, the validated path's rules shared)."""
    found = []
    for limit, chains in ((codegen.LAZY_RULES, codegen.LAZY_CHAINS), (codegen.LAZY_RULES, not codegen.LAZY_CHAINS),
                          (-1, False)):
        with layout(limit, chains):
            source = codegen.generate(policy.ir)
        module = types.ModuleType("lazy_paths")
        exec(compile(source, "<lazy_paths>", "exec"), module.__dict__)  # noqa: S102
        found.append(module)
    return found


def outcome(decide: Any, request: Any, **options: Any) -> tuple[Any, ...]:
    """("decision", fields) or ("error", code, signal, message)."""
    try:
        return ("decision", decide(request, **options).as_dict())
    except RequestError as exc:
        return ("error", exc.code, exc.signal, exc.message)
    except Exception as exc:  # the module's own RequestError class
        if type(exc).__name__ == "RequestError":
            return ("error", exc.code, exc.signal, exc.message)  # type: ignore[attr-defined]
        raise


def _load(text: str) -> Policy:
    return policylang.loads(text, "lazy.route", analyze=False)


def _allowed_reads(policy: Policy, fired: str) -> set[str]:
    """What a linear route may read deciding by `fired`: the signals of the rules up to it and
    of the cascades their decisions carry."""
    allowed: set[str] = set()
    for rule in policy.ir.route:
        if rule.condition is not None:
            allowed.update(codegen.signals_read(rule.condition))
        for edge in codegen.ladder(policy.ir, rule).edges:
            allowed.update(r.name for r in codegen._signal_refs(edge))
        if rule.name == fired:
            break
    return allowed


@examples(0.5)
@given(policies(), st.data())
def test_trusted_reads_are_lazy_and_decide_as_the_interpreter(text: str, data) -> None:
    """Without validation each signal is read at most once, a linear route reads nothing past
    the rule that fires, and both layouts decide (and escalate) as the interpreter does."""
    policy = _load(text)
    lazy, chained, eager = modules(policy)
    keyed = codegen.plan_dispatch(policy.ir) is not None
    for request in data.draw(st.lists(gen.valid_requests(policy.ir), min_size=3, max_size=10), label="requests"):
        typed = gen.typed(policy.ir, request)
        expected = policy.interpreter.decide(typed, validate=False)
        for module in (lazy, chained, eager):
            counting = Counting(typed)
            decision = module.decide(counting, validate=False)
            assert decision == expected, (typed, decision, expected)
            assert all(n == 1 for n in counting.reads.values()), counting.reads
            if len(decision.steps) > 1:
                for q in (0.2, 0.9):
                    assert module.escalate(decision, 0, {"q": q}) == policy.interpreter.escalate(
                        expected, 0, {"q": q}), (typed, q)
        if not keyed:
            counting = Counting(typed)
            lazy.decide(counting, validate=False)
            assert set(counting.reads) <= _allowed_reads(policy, expected.rule), (counting.reads, expected.rule)


@examples(0.5)
@given(policies(), st.data())
def test_trusted_path_leaves_unread_required_signals_alone(text: str, data) -> None:
    """A required signal that no rule before the firing one reads may be left out of a trusted
    request: the lazy module decides as the interpreter does on the whole request, without a
    KeyError."""
    policy = _load(text)
    lazy, _, _ = modules(policy)
    if codegen.plan_dispatch(policy.ir) is not None:
        return
    typed = gen.typed(policy.ir, data.draw(gen.valid_requests(policy.ir), label="request"))
    fired = policy.interpreter.decide(typed, validate=False)
    allowed = _allowed_reads(policy, fired.rule)
    trimmed = {k: v for k, v in typed.items() if k in allowed}
    assert lazy.decide(trimmed, validate=False) == fired


@examples(0.5)
@given(policies(), st.data())
def test_validating_paths_decide_and_refuse_as_the_interpreter(text: str, data) -> None:
    """Valid requests (money and durations as ints, floats, Decimals; optional signals left
    out) decide alike; spoiled ones, the spoiled signal read on the path or by no rule, are
    refused alike, the first spoiled signal in declaration order named, strict or not."""
    policy = _load(text)
    inputs = list(policy.ir.inputs)
    at = {s.name: i for i, s in enumerate(inputs)}
    for module in modules(policy):
        for request in data.draw(st.lists(gen.valid_requests(policy.ir), min_size=2, max_size=6), label="valid"):
            given_request = dict(request)
            found = outcome(module.decide, request)
            assert [(k, type(v), v) for k, v in request.items()] == \
                [(k, type(v), v) for k, v in given_request.items()], "validation changed the caller's request"
            assert found[0] == "decision"
            assert found == outcome(policy.interpreter.decide, request), request
        for _ in range(data.draw(st.integers(2, 5), label="count")):
            request = data.draw(gen.valid_requests(policy.ir), label="base")
            spoiled: list[str] = []
            for s in data.draw(st.lists(st.sampled_from(inputs), min_size=1, max_size=2, unique_by=lambda s: s.name),
                               label="spoil"):
                if not s.has_default and data.draw(st.booleans(), label="drop"):
                    request.pop(s.name, None)
                else:
                    request[s.name] = data.draw(st.one_of(gen.wrong_sort(s.type), gen.out_of_domain(s.type)),
                                                label=s.name)
                spoiled.append(s.name)
            first = min(spoiled, key=at.__getitem__)
            for strict in (False, True):
                found = outcome(module.decide, request, strict=strict)
                assert found == outcome(policy.interpreter.decide, request, strict=strict), (request, found)
                assert found[0] == "error" and found[2] == first, (request, found, first)


# ---- fixed cases ----------------------------------------------------------------------------------

EXACT = """
policy exact

signal spend: money in $0..$10 = $5
signal wait: duration in 0s..60s = 1s
signal n: int in 0..10 = 0

model m0 { id = "v/m0", tier = 1, input_per_mtok = $1, output_per_mtok = $1, context = 1_000, max_output = 100, latency = 1s }

route {
  rule half   when spend < $0.5 -> m0
  rule tenth  when spend == $0.1 -> m0
  rule short  when wait <= 500ms -> m0
  rule third  when spend in $0.3..$0.75 -> m0
  rule whole  when spend >= $2 and n > 3 -> m0
  default -> m0
}
"""


def test_decimal_constants_are_written_as_exact_literals_and_compare_exactly() -> None:
    """$0.5 and 500ms are written as 0.5 (a float holds them exactly), $2 as 2, $0.1 and $0.3 stay
    Decimals; every way to give an amount near those bounds decides as the interpreter does."""
    from decimal import Decimal

    policy = _load(EXACT)
    source = policy.to_python()
    assert "spend < 0.5" in source and "wait <= 0.5" in source and "spend >= 2" in source
    assert "_Decimal('0.1')" in source and "_Decimal('0.3')" in source
    values = [0, 2, 0.1, 0.3, 0.5, 0.49999999999999994, 0.5000000000000001, 0.75, 2.0, Decimal("0.1"),
              Decimal("0.5"), Decimal("0.4999999999999999999999999999999"), Decimal("1.99999999999999999999999999"),
              Decimal("0.30000000000000000000000001")]
    for module in modules(policy):
        for value in values:
            for request in ({"spend": value, "n": 5}, {"wait": value}):
                assert outcome(module.decide, request) == outcome(policy.interpreter.decide, request), request
                typed = gen.typed(policy.ir, request)
                assert module.decide(typed, validate=False) == policy.interpreter.decide(typed, validate=False)


KEYED = """policy keyed

signal k: enum {k0, k1, k2}
signal spend: money
signal n: int
signal pii: bool = false
outcome q: float in 0.0..1.0 = 1.0

model m0 { id = "v/m0", tier = 1, input_per_mtok = $1, output_per_mtok = $1, context = 1_000, max_output = 100, latency = 1s }
model m1 { id = "v/m1", tier = 2, input_per_mtok = $2, output_per_mtok = $2, context = 1_000, max_output = 200, latency = 2s }

cascade up {
  m0 -> m1 when q < 0.5 and spend < $0.1
}

route {
RULES
}
"""


def _keyed(rules: str) -> Policy:
    policy = _load(KEYED.replace("RULES", rules))
    assert codegen.plan_dispatch(policy.ir) is not None  # the shape under test is the keyed route
    return policy


def test_a_chain_that_ends_in_a_climbing_default_reads_what_the_climb_tests() -> None:
    """k2's chain tests nothing that reads `spend`, and it ends in a default that climbs on
    `spend`: the lazy chain must read it for the decision to carry (it once carried None, and
    escalate raised a TypeError)."""
    rules = "\n".join(f"  rule r{i} when k == k{i % 2} and spend < ${i} -> m0" for i in range(8))
    policy = _keyed(rules + "\n  rule late when k == k2 and pii -> m1\n  default -> up")
    for module in modules(policy):
        for spend in (0, 0.05, 7):
            typed = {"k": "k2", "spend": spend, "n": 1, "pii": False}
            counting = Counting(typed)
            decision = module.decide(counting, validate=False)
            assert decision == policy.interpreter.decide(typed, validate=False)
            assert all(n == 1 for n in counting.reads.values()), counting.reads
            for q in (0.2, 0.9):
                assert module.escalate(decision, 0, {"q": q}) == policy.interpreter.escalate(decision, 0, {"q": q})


def test_a_signal_the_chains_and_the_rules_after_them_read_is_read_once() -> None:
    """`n` is tested inside the chains and by a rule after them: it is read before the
    dispatch and passed in, not read in the chain and again after it."""
    rules = "\n".join(f"  rule r{i} when k == k0 and n < {i} -> m0" for i in range(8))
    policy = _keyed(rules + "\n  rule after when n < 0 -> m1\n  default -> m0")
    for module in modules(policy):
        for key in ("k0", "k1"):
            for n in (-1, 3, 9):
                typed = {"k": key, "spend": 1, "n": n}
                counting = Counting(typed)
                assert module.decide(counting, validate=False) == policy.interpreter.decide(typed, validate=False)
                assert all(count == 1 for count in counting.reads.values()), counting.reads


def test_a_chain_whose_decision_carries_the_key_takes_it_and_never_reads_it_again() -> None:
    """The key `en` is read for the dispatch, and the chain's rule climbs on an edge that tests
    `en`: the lazy chain takes the key's value as an argument (it once read `signals['en']` a
    second time; hypothesis found it in test_trusted_reads_are_lazy_and_decide_as_the_interpreter)."""
    rules = "\n".join(f"  rule r{i} when en == x -> {'up' if i == 0 else 'm0'}" for i in range(9))
    policy = _load(f"""policy paths

signal en: enum {{x, y, z}}
signal k: enum {{k0, k1}}
outcome q: float in 0.0..1.0 = 1.0

model m0 {{ id = "v/m0", tier = 1, input_per_mtok = $1, output_per_mtok = $1, context = 1_000, max_output = 100, latency = 1s }}
model m1 {{ id = "v/m1", tier = 2, input_per_mtok = $2, output_per_mtok = $2, context = 1_000, max_output = 200, latency = 2s }}

cascade up {{
  m0 -> m1 when q < 0.5 and en == x
}}

route {{
{rules}
  default -> m0
}}
""")
    assert codegen.plan_dispatch(policy.ir) is not None
    for module in modules(policy):
        for en in ("x", "y"):
            typed = {"en": en, "k": "k0"}
            counting = Counting(typed)
            decision = module.decide(counting, validate=False)
            assert decision == policy.interpreter.decide(typed, validate=False)
            assert counting.reads == {"en": 1}, counting.reads
            for q in (0.2, 0.9):
                assert module.escalate(decision, 0, {"q": q}) == policy.interpreter.escalate(decision, 0, {"q": q})


def test_an_optional_signal_is_read_inside_the_conjunct_that_tests_it() -> None:
    """`pii` is optional and tested beside `n`, which is read already: the trusted path tests `n`
    first and reads `pii` only when that passes. The chains test `pii` too: where the rule before
    them did not read it they read it themselves, so on every path it is read at most once, and
    not at all where no rule reaches it."""
    rules = "\n".join(f"  rule r{i} when k == k{i % 2} and pii and n > {i}00 -> m0" for i in range(8))
    policy = _keyed("  rule small when n < 5 -> m1\n  rule pii_big when pii and n > 1000 -> m1\n"
                    + rules + "\n  rule late when pii -> m0\n  default -> m0")
    source = codegen.generate(policy.ir)
    trusted = source.split("if not validate:", 1)[1].split("if signals.__class__", 1)[0]
    assert "if v_n > 1000 and (v_pii := signals.get('pii', False)): return" in trusted
    assert "if v_pii is None: v_pii = signals.get('pii', False)" in source  # in the chains
    for layout, module in enumerate(modules(policy)):
        for key in ("k0", "k1", "k2"):
            for n in (1, 350, 5000):
                for pii in (None, False, True):
                    typed = {"k": key, "spend": 1, "n": n, **({} if pii is None else {"pii": pii})}
                    counting = Counting(typed)
                    decision = module.decide(counting, validate=False)
                    assert decision == policy.interpreter.decide(typed, validate=False), typed
                    assert all(count == 1 for count in counting.reads.values()), (typed, counting.reads)
                    if n == 1 and layout < 2:  # `small` decides before anything tests pii (the
                        assert set(counting.reads) == {"n"}  # third layout reads all up front)
                    assert outcome(module.decide, typed) == outcome(policy.interpreter.decide, typed)


def test_tables_read_at_import_are_the_policys() -> None:
    """RULE_CAPS, the rule order and each rule's decision, written as strings read at import,
    are what the policy says, for a route long enough to take the shared trusted path."""
    rules = "\n".join(f"  rule r{i} when n == {i % 11} and spend > ${i % 7} -> m0"
                      + (f" with max_output = {10 + i % 90}" if i % 3 == 0 else "") for i in range(300))
    text = EXACT.replace(EXACT[EXACT.index("route {"):], "route {\n" + rules + "\n  default -> m0\n}\n")
    policy = _load(text)
    module = policy.compiled
    assert list(module.RULE_CAPS) == [r.name for r in policy.ir.route]
    assert module.RULE_CAPS == {r.name: r.cap for r in policy.ir.route}
    assert [name for name, _, _ in module._RULES] == [r.name for r in policy.ir.route]
    source = policy.to_python()
    assert "if not validate:  # trusted" not in source  # 300 rules: the shared path
    for request in ({"n": 3, "spend": 9}, {"n": 10, "spend": 6}, {"n": 0}, {"n": 9, "spend": 0}):
        expected = policy.interpreter.decide(request)
        assert module.decide(request) == expected
        assert module.decide(gen.typed(policy.ir, request), validate=False) == expected


def _policyc() -> str:
    return str(Path(sys.executable).with_name("policyc"))


def test_compile_writes_a_bytecode_cache_that_import_uses(tmp_path: Path) -> None:
    """`policyc compile -o` writes __pycache__/NAME.cpython-XY.pyc checked against the source's
    hash, which a fresh interpreter imports; `--no-bytecode` writes none; an edited module is
    compiled afresh, not read from the stale cache."""
    source = tmp_path / "exact.route"
    source.write_text(EXACT, encoding="utf-8")
    module = tmp_path / "exact_policy.py"
    subprocess.run([_policyc(), "compile", str(source), "-o", str(module)], check=True, capture_output=True)
    cache = Path(importlib.util.cache_from_source(str(module)))
    assert cache.exists()
    flags = int.from_bytes(cache.read_bytes()[4:8], "little")
    assert flags == 0b11, "a checked hash-based pyc"
    probe = "import sys; sys.path.insert(0, sys.argv[1]); import exact_policy as m; print(m.decide({'spend': 0.2}).rule)"

    def imported() -> tuple[bool, str]:
        run = subprocess.run([sys.executable, "-B", "-v", "-c", probe, str(tmp_path)], check=True,
                             capture_output=True, text=True)
        return f"code object from '{cache}'" in run.stderr, run.stdout.strip()

    assert imported() == (True, "half")
    module.write_text(module.read_text(encoding="utf-8").replace("half", "HALF"), encoding="utf-8")
    assert imported() == (False, "HALF")
    cache.unlink()
    other = tmp_path / "bare_policy.py"
    subprocess.run([_policyc(), "compile", str(source), "-o", str(other), "--no-bytecode"], check=True,
                   capture_output=True)
    assert not Path(importlib.util.cache_from_source(str(other))).exists()
    assert not cache.exists()


@pytest.mark.parametrize("seed", ["0", "1", "12345"])
def test_module_bytes_do_not_depend_on_the_hash_seed(seed: str) -> None:
    """The compiled text (lazy reads, tables as strings) is the same in every process."""
    probe = ("import policylang, hashlib, sys; p = policylang.loads(sys.stdin.read(), 'exact.route', analyze=False); "
             "print(hashlib.sha256(p.to_python().encode()).hexdigest())")
    env = {"PYTHONHASHSEED": seed, "PATH": ""}
    run = subprocess.run([sys.executable, "-c", probe], input=EXACT, check=True, capture_output=True, text=True,
                         env=env)
    assert run.stdout.strip() == hashlib.sha256(policylang.loads(EXACT, "exact.route", analyze=False).to_python().encode()).hexdigest()
