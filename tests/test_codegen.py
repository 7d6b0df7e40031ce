"""The standalone module generator: deterministic, standard library only, safe, traceable.

docs/language.md section 9: the compiled module imports the standard library only, exposes
`decide`, `escalate`, `POLICY_NAME`, `SOURCE_SHA256`, `SIGNALS`, `MODELS`, `Decision` and
`RequestError`, and is byte-identical for the same source. STYLE.md habit 6: every user name is
mangled and every literal goes through `repr`, so no policy text can run.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from contextlib import chdir
from decimal import Decimal
from pathlib import Path

import pytest

import policylang
from policylang.backends.python.codegen import generate
from support.cli import run

POLICYC = Path(sys.executable).parent / "policyc"

RICH = """policy rich

signal input_tokens: int in 0..1_000
signal task: enum {classify, extract, format, translate, summarize, draft, plan, code}
signal plan_tier: enum {free, pro, enterprise} = free
signal pii: bool = false
signal remaining_budget: money in $0..$100 = $100
outcome confidence: float in 0.0..1.0 = 1.0
outcome valid: bool = true

model small { id = "acme/small" tier = 1 input_per_mtok = $0.5 output_per_mtok = $1.5 context = 1_000 max_output = 100 latency = 1s tags = {tools, vision, open_weights} }
model big { id = "acme/big" tier = 2 input_per_mtok = $3 output_per_mtok = $15 context = 1_000 max_output = 200 latency = 2s regions = {us, eu, apac} }
model huge { id = "acme/huge" tier = 3 input_per_mtok = $5 output_per_mtok = $30 context = 1_000 max_output = 300 latency = 3s }
model eu_only { id = "acme/eu" tier = 2 input_per_mtok = $1 output_per_mtok = $2 context = 1_000 max_output = 100 latency = 2s regions = {eu} }

cascade ladder {
  small -> big when confidence < 0.5 or not valid
  big -> huge when confidence < 0.3 and input_tokens > 100
}

fallback small -> big on unavailable, rate_limited
fallback big -> huge on server_error

invariant residency: when pii require model.regions <= {eu}

route {
  rule private when pii -> eu_only
  rule premium when plan_tier in {pro, enterprise} and input_tokens > 500 -> big with max_output = 150
  rule frugal when remaining_budget < cost(big) -> small
  rule cheap when task in {classify, extract, format} -> ladder
  rule long_summary when task == summarize and input_tokens + 2 * 100 > 900 -> huge
  default -> small
}

test private_stays_in_eu {
  given { pii = true, input_tokens = 10, task = code }
  expect eu_only by private
}
"""

RICH_REQUESTS = [
    {"input_tokens": 10, "task": "code", "pii": True},
    {"input_tokens": 600, "task": "code", "plan_tier": "enterprise"},
    {"input_tokens": 600, "task": "code", "plan_tier": "free", "remaining_budget": 0.001},
    {"input_tokens": 50, "task": "extract"},
    {"input_tokens": 750, "task": "summarize"},
    {"input_tokens": 650, "task": "summarize"},
    {"input_tokens": 50, "task": "poetry"},
    {"task": "code"},
    {"input_tokens": True, "task": "code"},
]

EMPTY = """policy empty
model only { id = "acme/only" tier = 1 input_per_mtok = $1 output_per_mtok = $1 context = 1_000 max_output = 10 latency = 1s }
route {
  default -> only
}
"""

# Calls and names no generated module needs more of than an empty policy's module has.
DANGEROUS_CALLS = {"__import__", "exec", "eval", "compile", "open", "system", "popen", "spawnl", "getattr",
                   "setattr", "delattr", "globals", "locals", "vars", "breakpoint", "input", "print"}
DANGEROUS_NAMES = {"os", "sys", "subprocess", "builtins", "importlib", *DANGEROUS_CALLS}


def route_string(value: str) -> str:
    """`value` as a .route string literal, with the escapes of section 2: \\" \\\\ \\n \\t."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def imported_modules(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "a relative import cannot work in a vendored module"
            found.add(node.module)
    return found


def called_names(tree: ast.AST) -> Counter:
    calls: Counter = Counter()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                calls[func.id] += 1
            elif isinstance(func, ast.Attribute):
                calls[func.attr] += 1
    return calls


def loaded_names(tree: ast.AST) -> set[str]:
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    return names


def assert_no_more_power_than_an_empty_policy(text: str) -> None:
    tree = ast.parse(text)
    baseline = ast.parse(policylang.loads(EMPTY).to_python())
    assert imported_modules(tree) == imported_modules(baseline)
    calls, allowed = called_names(tree), called_names(baseline)
    for name in DANGEROUS_CALLS:
        assert calls[name] <= allowed[name], f"the module calls {name} {calls[name]} times, an empty one {allowed[name]}"
    assert loaded_names(tree) & DANGEROUS_NAMES <= loaded_names(baseline) & DANGEROUS_NAMES


STANDALONE = r"""
import importlib.util, json, sys
for blocked in ("policylang", "pydantic", "jinja2", "lark", "z3", "click"):
    sys.modules[blocked] = None  # importing any of these now raises ImportError
spec = importlib.util.spec_from_file_location("vendored_policy", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["vendored_policy"] = module
spec.loader.exec_module(module)
out = []
for request in json.loads(sys.argv[2]):
    try:
        out.append(module.decide(request).as_dict())
    except module.RequestError as exc:
        out.append({"error": exc.as_dict()})
escalations = []
for rule_request, step, outcomes in json.loads(sys.argv[3]):
    decision = module.decide(rule_request)
    escalations.append(module.escalate(decision, step, outcomes))
loaded = sorted(m.split(".")[0] for m, v in sys.modules.items() if v is not None)
print(json.dumps({"decisions": out, "escalations": escalations, "modules": loaded}))
"""


def run_standalone(module_path: Path, requests: list, escalations: list = (), cwd: Path | None = None) -> dict:
    """Import the module in an isolated interpreter where policylang cannot be imported."""
    completed = subprocess.run(
        [sys.executable, "-I", "-c", STANDALONE, str(module_path), json.dumps(requests), json.dumps(list(escalations))],
        cwd=cwd or module_path.parent, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def expected_lines(policy: policylang.Policy, requests: list, engine: str = "interpreted") -> list[dict]:
    lines = []
    for request in requests:
        try:
            lines.append(policy.decide(request, engine=engine).as_dict())
        except policylang.RequestError as exc:
            lines.append({"error": {"code": exc.code, "signal": exc.signal, "message": exc.message}})
    return lines


# ---- determinism -----------------------------------------------------------------------------


def test_same_policy_twice_is_byte_identical(write_route):
    path = write_route(RICH, "rich.route")
    first, second = policylang.load(str(path)), policylang.load(str(path))
    assert first.to_python() == second.to_python()
    assert generate(first.ir) == generate(first.ir) == first.to_python()
    assert policylang.loads(RICH, name="rich.route").to_python() == first.to_python()


def test_same_bytes_across_processes_and_hash_seeds(tmp_path):
    source = tmp_path / "rich.route"
    source.write_text(RICH, encoding="utf-8")
    outputs = set()
    for seed in ("0", "1", "4242", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        completed = subprocess.run([str(POLICYC), "compile", "rich.route"], cwd=tmp_path, env=env,
                                   capture_output=True, timeout=120)
        assert completed.returncode == 0, completed.stderr
        outputs.add(completed.stdout)
    assert len(outputs) == 1
    assert outputs.pop().decode("utf-8") == policylang.load(str(source)).to_python()


def test_same_bytes_from_any_path_and_no_paths_inside(tmp_path):
    first_dir, second_dir = tmp_path / "one" / "deep", tmp_path / "two"
    first_dir.mkdir(parents=True)
    second_dir.mkdir()
    for folder in (first_dir, second_dir):
        (folder / "rich.route").write_text(RICH, encoding="utf-8")
    by_absolute = subprocess.run([str(POLICYC), "compile", str(first_dir / "rich.route")], cwd=second_dir,
                                 capture_output=True, text=True, timeout=120)
    by_relative = subprocess.run([str(POLICYC), "compile", "rich.route"], cwd=second_dir,
                                 capture_output=True, text=True, timeout=120)
    assert by_absolute.returncode == by_relative.returncode == 0
    assert by_absolute.stdout == by_relative.stdout
    text = by_absolute.stdout
    for path in (tmp_path, tmp_path.resolve(), first_dir, second_dir, Path.home()):
        assert str(path) not in text
    assert "/tmp" not in text


# ---- standalone ------------------------------------------------------------------------------


def test_module_is_standalone(tmp_path):
    source = tmp_path / "rich.route"
    source.write_text(RICH, encoding="utf-8")
    policy = policylang.load(str(source))
    module_path = tmp_path / "vendor" / "rich_policy.py"
    module_path.parent.mkdir()
    module_path.write_text(policy.to_python(), encoding="utf-8")
    climbs = [
        [{"input_tokens": 50, "task": "extract"}, 0, {"confidence": 0.1}],
        [{"input_tokens": 50, "task": "extract"}, 1, {"confidence": 0.1}],   # input_tokens <= 100
        [{"input_tokens": 500, "task": "extract"}, 1, {"confidence": 0.1}],
        [{"input_tokens": 50, "task": "extract"}, 0, {"confidence": 0.9}],
    ]
    got = run_standalone(module_path, RICH_REQUESTS, climbs)
    assert got["decisions"] == expected_lines(policy, RICH_REQUESTS)
    assert got["escalations"] == ["big", None, "huge", None]
    assert not {"policylang", "pydantic", "jinja2", "lark", "z3", "click"} & set(got["modules"])


def test_module_imports_only_the_standard_library():
    for text in (RICH, EMPTY):
        tree = ast.parse(policylang.loads(text).to_python())
        modules = imported_modules(tree)
        assert modules, "the module imports decimal at least"
        outside = {m for m in modules if m.split(".")[0] not in sys.stdlib_module_names}
        assert not outside, f"non-standard imports: {outside}"
        assert not any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "__import__"
                       for n in ast.walk(tree))


# ---- what the module exposes -----------------------------------------------------------------


@pytest.fixture
def rich_module(tmp_path):
    source = tmp_path / "rich.route"
    source.write_text(RICH, encoding="utf-8")
    policy = policylang.load(str(source))
    namespace: dict = {"__name__": "rich_policy"}
    exec(compile(policy.to_python(), "rich_policy.py", "exec"), namespace)  # noqa: S102
    return source, policy, namespace


def test_module_exposes_the_names_of_section_9(rich_module):
    source, policy, module = rich_module
    for name in ("decide", "escalate", "POLICY_NAME", "SOURCE_SHA256", "SIGNALS", "OUTCOMES", "MODELS",
                 "FALLBACKS", "Decision", "RequestError"):
        assert name in module, name
    assert module["POLICY_NAME"] == "rich"
    assert module["SOURCE_SHA256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert list(module["SIGNALS"]) == ["input_tokens", "task", "plan_tier", "pii", "remaining_budget"]
    assert list(module["OUTCOMES"]) == ["confidence", "valid"]
    assert module["MODELS"]["big"]["id"] == "acme/big"
    assert module["MODELS"]["big"]["input_per_mtok"] == Decimal("3")
    assert module["MODELS"]["big"]["output_per_mtok"] == Decimal("15")
    assert module["MODELS"]["small"]["input_per_mtok"] == Decimal("0.5")
    assert module["MODELS"]["eu_only"]["id"] == "acme/eu"
    assert module["FALLBACKS"]["small"] == {"unavailable": "big", "rate_limited": "big"}
    assert module["FALLBACKS"]["big"] == {"server_error": "huge"}
    assert issubclass(module["RequestError"], Exception)


def test_sha256_follows_the_source_text(tmp_path):
    first = tmp_path / "a.route"
    first.write_text(RICH, encoding="utf-8")
    second = tmp_path / "b.route"
    second.write_text(RICH + "\n# a comment changes the text, not the decisions\n", encoding="utf-8")
    one, two = policylang.load(str(first)), policylang.load(str(second))
    assert f"SOURCE_SHA256 = {hashlib.sha256(first.read_bytes()).hexdigest()!r}" in one.to_python()
    assert f"SOURCE_SHA256 = {hashlib.sha256(second.read_bytes()).hexdigest()!r}" in two.to_python()


def test_decide_returns_decisions_and_raises_request_errors(rich_module):
    _, policy, module = rich_module
    decision = module["decide"]({"input_tokens": 600, "task": "code", "plan_tier": "pro"})
    assert isinstance(decision, module["Decision"])
    assert (decision.rule, decision.model, tuple(decision.steps), decision.max_output, decision.reject) == (
        "premium", "big", ("big",), 150, None)
    with pytest.raises(module["RequestError"]) as caught:
        module["decide"]({"task": "code"})
    assert caught.value.code == "R001"
    assert caught.value.signal == "input_tokens"
    with pytest.raises(module["RequestError"]) as caught:
        module["decide"]({"input_tokens": 5, "task": "code", "colour": 1}, strict=True)
    assert caught.value.code == "R004"


def test_decide_without_validation_for_typed_signals(rich_module):
    _, policy, module = rich_module
    typed = [
        {"input_tokens": 10, "task": "code", "plan_tier": "free", "pii": True, "remaining_budget": Decimal("100")},
        {"input_tokens": 600, "task": "code", "plan_tier": "pro", "pii": False, "remaining_budget": Decimal("100")},
        {"input_tokens": 600, "task": "code", "plan_tier": "free", "pii": False, "remaining_budget": Decimal("0.001")},
        {"input_tokens": 50, "task": "format", "plan_tier": "free", "pii": False, "remaining_budget": Decimal("5")},
        {"input_tokens": 701, "task": "summarize", "plan_tier": "free", "pii": False, "remaining_budget": Decimal("9")},
        {"input_tokens": 700, "task": "summarize", "plan_tier": "free", "pii": False, "remaining_budget": Decimal("9")},
        {"input_tokens": 50, "task": "draft"},  # defaults fill the rest
    ]
    rules = []
    for signals in typed:
        fast = module["decide"](signals, validate=False)
        assert fast == module["decide"](signals)
        assert fast == policy.decide(signals, engine="interpreted")
        rules.append(fast.rule)
    assert rules == ["private", "premium", "frugal", "cheap", "long_summary", "default", "default"]


def test_each_rule_is_found_by_name_and_line(rich_module):
    _, policy, module = rich_module
    text = policy.to_python()
    source_lines = RICH.splitlines()
    for rule in policy.ir.route:
        needle = f"rule {rule.name} when" if rule.name != "default" else "default ->"
        (line,) = [i for i, text_line in enumerate(source_lines, start=1) if text_line.strip().startswith(needle)]
        assert f"# rule {rule.name} (line {line})" in text
    assert len(policy.ir.route) == 6


# ---- compile --check -------------------------------------------------------------------------


def test_compile_check_round_trip(tmp_path):
    source = tmp_path / "rich.route"
    source.write_text(RICH, encoding="utf-8")

    def policyc(*args: str) -> int:  # in process: test_cli's script round trip runs the installed policyc
        with chdir(tmp_path):
            return run(list(args)).exit_code

    assert policyc("compile", "rich.route", "-o", "rich_policy.py") == 0
    assert (tmp_path / "rich_policy.py").read_text(encoding="utf-8") == policylang.load(str(source)).to_python()
    assert policyc("compile", "rich.route", "-o", "rich_policy.py", "--check") == 0
    source.write_text(RICH.replace("input_tokens > 500", "input_tokens > 400"), encoding="utf-8")
    assert policyc("compile", "rich.route", "-o", "rich_policy.py", "--check") == 1
    assert policyc("compile", "rich.route", "-o", "rich_policy.py") == 0
    assert policyc("compile", "rich.route", "-o", "rich_policy.py", "--check") == 0
    (tmp_path / "rich_policy.py").write_text(
        (tmp_path / "rich_policy.py").read_text(encoding="utf-8") + "# hand edit\n", encoding="utf-8")
    assert policyc("compile", "rich.route", "-o", "rich_policy.py", "--check") == 1


# ---- safety ----------------------------------------------------------------------------------


def hostile(marker: Path) -> tuple[str, dict[str, str]]:
    """A policy whose names shadow Python's and the module's, and whose strings try to break out."""
    payloads = {
        "close_and_run": f"\"); import os; os.system('touch {marker}'); (\"",
        "triple_quotes": f"'''\"\"\"\\\n# __import__('os').system('touch {marker}')\t",
        "backslash_end": "\\'; exec('import os') #\\",
        "import_call": f"__import__('os').system('touch {marker}')",
        "all_quotes": "a\"b'c'''d\"\"\"e\\f\ng\th\\",
        "docstring_end": f"\"\"\"; import os; os.system('touch {marker}'); \"\"\"",
    }
    text = f"""policy __init__

signal x: int in 0..100
signal v_x: int in 0..100 = 0
signal __import__: bool = false
signal os: enum {{system, popen}} = system
signal sys: int in 0..10 = 0
signal exec: bool = false
signal validate: bool = false
signal strict: bool = false
outcome print: float in 0.0..1.0 = 1.0

threshold eval = 7

model Decision {{ id = {route_string(payloads["all_quotes"])} tier = 1 input_per_mtok = $1 output_per_mtok = $1 context = 1000 max_output = 10 latency = 1s }}
model decide {{ id = {route_string(payloads["import_call"])} tier = 2 input_per_mtok = $1 output_per_mtok = $1 context = 1000 max_output = 10 latency = 1s }}
model escalate {{ id = {route_string(payloads["docstring_end"])} tier = 3 input_per_mtok = $1 output_per_mtok = $1 context = 1000 max_output = 10 latency = 1s }}
model _MISSING {{ id = "plain" tier = 1 input_per_mtok = $1 output_per_mtok = $1 context = 1000 max_output = 20 latency = 1s }}

cascade signals {{
  Decision -> decide when print < 0.5
  decide -> escalate when print < 0.2
}}

route {{
  rule _NO_RULE when exec -> reject {route_string(payloads["close_and_run"])}
  rule _LADDERS when os == popen -> reject {route_string(payloads["triple_quotes"])}
  rule MODELS when sys > eval -> _MISSING
  rule SIGNALS when v_x > x -> signals
  rule RequestError when __import__ and validate and strict -> escalate
  rule POLICY_NAME when sys == 1 -> reject {route_string(payloads["backslash_end"])}
  default -> Decision
}}
"""
    return text, payloads


HOSTILE_REQUESTS = [
    {"x": 1, "exec": True},
    {"x": 1, "os": "popen"},
    {"x": 1, "sys": 8},
    {"x": 1, "v_x": 5},
    {"x": 10, "v_x": 5},
    {"x": 1, "__import__": True, "validate": True, "strict": True},
    {"x": 1, "sys": 1},
    {"x": 1},
    {"x": 1, "os": "system; import os"},
    {},
]


def test_string_escapes_decode_exactly():
    text = EMPTY.replace("default -> only", 'rule never when false -> reject "a\\\\b\\"c\\nd\\te"\n  default -> only')
    text = text.replace("policy empty", "policy escapes\nsignal flag: bool = false").replace("when false", "when flag")
    policy = policylang.loads(text)
    assert policy.decide({"flag": True}).reject == 'a\\b"c\nd\te'
    assert policy.decide({"flag": True}, engine="interpreted").reject == 'a\\b"c\nd\te'


def test_hostile_policy_is_clean_and_compiles(tmp_path):
    text, _ = hostile(tmp_path / "MARKER")
    policy = policylang.loads(text)
    assert [d.code for d in policy.diagnostics] == []
    compile(policy.to_python(), "hostile.py", "exec")


def test_hostile_policy_decides_with_the_exact_strings(tmp_path):
    marker = tmp_path / "MARKER"
    text, payloads = hostile(marker)
    policy = policylang.loads(text)
    for engine in ("compiled", "interpreted"):
        decide = lambda signals: policy.decide(signals, engine=engine)  # noqa: E731
        assert decide({"x": 1, "exec": True}).reject == payloads["close_and_run"]
        assert decide({"x": 1, "os": "popen"}).reject == payloads["triple_quotes"]
        assert decide({"x": 1, "sys": 1}).reject == payloads["backslash_end"]
        assert decide({"x": 1, "sys": 8}).model == "_MISSING"
        assert decide({"x": 1, "v_x": 5}).rule == "SIGNALS"  # v_x > x: the two are different variables
        assert decide({"x": 10, "v_x": 5}).rule == "default"
        assert decide({"x": 5, "v_x": 5}).rule == "default"
        assert decide({"x": 1, "__import__": True, "validate": True, "strict": True}).model == "escalate"
        assert decide({"x": 1, "__import__": True, "validate": True}).rule == "default"
        cascade = decide({"x": 1, "v_x": 5})
        assert tuple(cascade.steps) == ("Decision", "decide", "escalate")
        assert policy.escalate(cascade, "Decision", {"print": 0.1}, engine=engine) == "decide"
        assert policy.escalate(cascade, "decide", {"print": 0.3}, engine=engine) is None
    assert not marker.exists()


def test_hostile_policy_standalone(tmp_path):
    marker = tmp_path / "MARKER"
    text, payloads = hostile(marker)
    policy = policylang.loads(text, name="hostile.route")
    module_path = tmp_path / "hostile_policy.py"
    module_path.write_text(policy.to_python(), encoding="utf-8")
    climbs = [[{"x": 1, "v_x": 5}, "Decision", {"print": 0.1}], [{"x": 1, "v_x": 5}, "decide", {"print": 0.1}]]
    got = run_standalone(module_path, HOSTILE_REQUESTS, climbs)
    assert got["decisions"] == expected_lines(policy, HOSTILE_REQUESTS)
    assert got["decisions"][0]["reject"] == payloads["close_and_run"]
    assert got["decisions"][1]["reject"] == payloads["triple_quotes"]
    assert got["decisions"][6]["reject"] == payloads["backslash_end"]
    assert got["decisions"][8]["error"]["code"] == "R003"
    assert got["decisions"][9]["error"]["code"] == "R001"
    assert got["escalations"] == ["decide", "escalate"]
    assert not marker.exists()
    assert not (tmp_path / "MARKER").exists()


def test_hostile_policy_module_constants_are_exact(tmp_path):
    text, payloads = hostile(tmp_path / "MARKER")
    policy = policylang.loads(text)
    namespace: dict = {"__name__": "hostile_policy"}
    exec(compile(policy.to_python(), "hostile_policy.py", "exec"), namespace)  # noqa: S102
    assert namespace["POLICY_NAME"] == "__init__"
    assert namespace["MODELS"]["Decision"]["id"] == payloads["all_quotes"]
    assert namespace["MODELS"]["decide"]["id"] == payloads["import_call"]
    assert namespace["MODELS"]["escalate"]["id"] == payloads["docstring_end"]
    assert namespace["MODELS"]["_MISSING"]["id"] == "plain"
    assert set(namespace["SIGNALS"]) == {"x", "v_x", "__import__", "os", "sys", "exec", "validate", "strict"}
    assert set(namespace["OUTCOMES"]) == {"print"}
    # the module's own names were not shadowed by the policy's
    assert callable(namespace["decide"]) and callable(namespace["escalate"])
    assert isinstance(namespace["Decision"], type)
    assert namespace["_MISSING"] is not None and not isinstance(namespace["_MISSING"], (str, dict))
    assert not (tmp_path / "MARKER").exists()


def test_hostile_policy_module_has_no_more_power_than_an_empty_one(tmp_path):
    text, payloads = hostile(tmp_path / "MARKER")
    module_text = policylang.loads(text).to_python()
    assert_no_more_power_than_an_empty_policy(module_text)
    tree = ast.parse(module_text)
    hostile_constants = {node.value for node in ast.walk(tree)
                         if isinstance(node, ast.Constant) and isinstance(node.value, str) and "MARKER" in node.value}
    assert hostile_constants == {payloads["close_and_run"], payloads["triple_quotes"], payloads["import_call"],
                                 payloads["docstring_end"]}
    assert not any(line.lstrip().startswith(("import os", "exec(", "__import__(")) for line in module_text.splitlines())


def test_hostile_policy_through_the_cli(tmp_path):
    marker = tmp_path / "MARKER"
    text, payloads = hostile(marker)
    (tmp_path / "hostile.route").write_text(text, encoding="utf-8")
    compiled = subprocess.run([str(POLICYC), "compile", "hostile.route", "-o", "hostile_policy.py"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
    assert compiled.returncode == 0, compiled.stderr
    evaluated = subprocess.run([str(POLICYC), "eval", "hostile.route", "--request", '{"x": 1, "exec": true}'],
                               cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["reject"] == payloads["close_and_run"]
    assert not marker.exists()


def test_file_name_with_a_newline_cannot_inject_through_the_header(tmp_path):
    policy = policylang.loads(RICH, name="rich.route")
    for file in ("x\nimport os\n", "x\r\nimport os\r\n", "x\u2028import os\u2029", 'x"""\nimport os\n"""'):
        text = generate(policy.ir.model_copy(update={"file": file}))
        assert not any(line.startswith("import os") for line in text.splitlines())
        assert not any(line.startswith("import os") for line in text.split("\n"))
        assert_no_more_power_than_an_empty_policy(text)
        compile(text, "header.py", "exec")


def test_real_file_name_with_a_newline(tmp_path):
    path = tmp_path / "evil\nimport os\n.route"
    path.write_text(RICH, encoding="utf-8")
    text = policylang.load(str(path)).to_python()
    assert not any(line.startswith("import os") for line in text.split("\n"))
    assert_no_more_power_than_an_empty_policy(text)


def test_policy_name_cannot_inject_through_the_docstring():
    # names from the grammar are identifiers; an IR built by other means must still stay inert
    policy = policylang.loads(RICH, name="rich.route")
    for name in ('x""";import os;"""', "x\nimport os\n", "x'''\nimport os\n'''"):
        text = generate(policy.ir.model_copy(update={"name": name}))
        assert_no_more_power_than_an_empty_policy(text)
        namespace: dict = {}
        exec(compile(text, "named.py", "exec"), namespace)  # noqa: S102
        assert namespace["POLICY_NAME"] == name
