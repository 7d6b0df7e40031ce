"""Random policies built to reach the engines' fast paths (tests/test_interpreter_paths.py,
tests/test_compiled_paths.py): rules that read different signals of every kind (ints, floats,
bools, enums, money, durations, bounded or not), defaults, required signals, a cascade whose
edge reads a signal, sometimes a key that enough rules test to be dispatched on, and one or
two signals no rule reads at all."""

from __future__ import annotations

from hypothesis import strategies as st

KEY_MEMBERS = ("k0", "k1", "k2", "k3", "k4", "k5")

# (declaration without its default, defaults to choose from, constants a rule compares with)
SIGNALS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "i1": ("int in -5..20", ("0", "7", "-5"), ("-5", "0", "3", "20", "21", "-6")),
    "i2": ("int", ("5", "0"), ("0", "100", "-3")),
    "fl": ("float in -1.0..1.0", ("0.0", "0.5"), ("0.25", "-0.5", "0.1", "1.0", "-1.0", "0")),
    "fu": ("float", ("0.0", "2.5"), ("0.1", "3.5", "-2")),
    "fb": ("bool", ("false", "true"), ()),
    "en": ("enum {x, y, z}", ("y", "x"), ()),
    "mo": ("money in $0..$10", ("$1", "$0.25", "$10"), ("$0.1", "$0.5", "$3", "$10", "$0", "$0.3")),
    "mu": ("money", ("$0", "$2.5"), ("$0.1", "$2", "$0.7")),
    "du": ("duration in 0s..60s", ("1s", "1.5s", "0s"), ("500ms", "2s", "30s", "60s", "0.1s")),
    "dz": ("duration", ("0s", "2s"), ("1s", "250ms")),
}
OPS = ("<", "<=", ">", ">=", "==", "!=")


@st.composite
def atoms(draw, name: str) -> str:
    """One test of `name`: against a constant, membership, a bool or its negation."""
    if name == "fb":
        return draw(st.sampled_from(["fb", "not fb"]))
    if name == "en":
        members = sorted(draw(st.sets(st.sampled_from("xyz"), min_size=1, max_size=2)))
        return draw(st.sampled_from([f"en == {members[0]}", f"en != {members[0]}",
                                     "en in {" + ", ".join(members) + "}",
                                     "en not in {" + ", ".join(members) + "}"]))
    if name == "k":
        members = sorted(draw(st.sets(st.sampled_from(KEY_MEMBERS), min_size=1, max_size=3)))
        return f"k == {members[0]}" if len(members) == 1 else "k in {" + ", ".join(members) + "}"
    constant = draw(st.sampled_from(SIGNALS[name][2]))
    if name == "i1" and draw(st.integers(0, 5)) == 0:
        return f"i1 in {constant}..{draw(st.sampled_from(SIGNALS['i1'][2]))}"  # a range: not a plain test
    return f"{name} {draw(st.sampled_from(OPS))} {constant}"


@st.composite
def conditions(draw, names: list[str], keyed: bool) -> str:
    """A rule's condition over one to three different signals: mostly `and`, sometimes `or`,
    now and then negated as a whole (which no plain-test closure takes)."""
    read = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    parts = [draw(atoms(name)) for name in read]
    if keyed:
        parts.insert(draw(st.integers(0, len(parts))), draw(atoms("k")))
    shape = draw(st.sampled_from(["and", "and", "and", "or", "not"]))
    if shape == "not" and len(parts) > 1:
        return "not (" + " and ".join(parts) + ")"
    return f" {'or' if shape == 'or' else 'and'} ".join(parts)


@st.composite
def policies(draw) -> str:
    """A policy over a random subset of SIGNALS in a random declaration order, some with
    defaults; rules reading different signals; one or two signals no rule reads."""
    names = draw(st.permutations(sorted(SIGNALS)))[: draw(st.integers(3, len(SIGNALS)))]
    unread = set(names[-draw(st.integers(1, 2)):])
    read = [n for n in names if n not in unread]
    keyed = draw(st.integers(0, 3)) == 0
    lines = ["policy paths", ""]
    declared = list(names) + (["k"] if keyed else [])
    for name in draw(st.permutations(declared)):
        if name == "k":
            lines.append("signal k: enum {" + ", ".join(KEY_MEMBERS) + "}" + draw(st.sampled_from(["", " = k2"])))
            continue
        declaration, defaults, _ = SIGNALS[name]
        default = draw(st.one_of(st.none(), st.sampled_from(defaults)))
        lines.append(f"signal {name}: {declaration}" + ("" if default is None else f" = {default}"))
    edge_signal = draw(st.sampled_from(read))
    lines += ["outcome q: float in 0.0..1.0 = 1.0", "",
              'model m0 { id = "v/m0", tier = 1, input_per_mtok = $1, output_per_mtok = $1, context = 1_000, '
              "max_output = 100, latency = 1s }",
              'model m1 { id = "v/m1", tier = 2, input_per_mtok = $2, output_per_mtok = $2, context = 1_000, '
              "max_output = 200, latency = 2s }", "",
              "cascade up {", f"  m0 -> m1 when q < 0.5 and {draw(atoms(edge_signal))}", "}", "", "route {"]
    count = draw(st.integers(9, 14)) if keyed else draw(st.integers(1, 8))
    for i in range(count):
        target = draw(st.sampled_from(["m0", "m1", "up", "up", 'reject "no"', "m1 with max_output = 50"]))
        lines.append(f"  rule r{i} when {draw(conditions(read, keyed and draw(st.integers(0, 4)) > 0))} -> {target}")
    lines += [f"  default -> {draw(st.sampled_from(['m0', 'up']))}", "}", ""]
    return "\n".join(lines)
