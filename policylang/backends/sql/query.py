"""The policy as one SELECT (section 12), in DuckDB's dialect.

The query is a chain of common table expressions, each adding columns whose names start with
`@p:` (keys that start with `@` are the tools', never signals):

1. `@p:in`: the rows, with each request key's source (a typed column, a JSON value or CSV text);
2. `@p:val`: every signal validated in declaration order (`columns.py`, `validate.py`) and the
   shape of `"@outcomes"`;
3. `@p:cond`: each rule's condition over the validated values (`expressions.py`);
4. `@p:rule`: the first rule that holds, after the request errors;
5. `@p:climb`: the outcome objects validated step by step and each cascade's climb;
6. the result: the input columns, then `rule, model, steps, max_output, caps, reject, path,
   error_code, error_signal`, as the Python engines give them for the same row.

Deterministic: the text depends only on the policy, the layout and the table's name.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...codes import R004
from ...ir.policy import CascadeTarget, CheckedPolicy, RejectTarget
from ..python.checks import SignalCheck, checks
from ..python.plan import has_input_tokens
from .columns import Absent, Json, Layout, Source, Typed, list_struct_fields, source_of
from .expressions import Env, condition
from .text import FALSE, NULL, TRUE, all_of, any_of, case, ident, integer, negate, string
from .validate import R002, Validated, number, validated

OUTPUTS = ("rule", "model", "steps", "max_output", "caps", "reject", "path", "error_code", "error_signal")
"""The columns the query adds to each row, in order."""

NO_RULE, UNDECIDED = -2, -1
"""`@p:rule` when no rule takes a valid request (a policy with E204), and when the query
cannot decide a comparison exactly (S001) or hold a token count (`BIGINT_MAX`)."""

BIGINT_MAX = 2**63 - 1
"""The largest token count the query sums; a request with a larger one is left UNDECIDED, for
the python engine, which counts any whole number exactly."""


def col(name: str) -> str:
    return ident(f"@p:{name}")


@dataclass(frozen=True)
class Query:
    """The text of the query, the columns it keeps from the input, and the rule order."""

    text: str
    kept: tuple[str, ...]


def build(policy: CheckedPolicy, layout: Layout, table: str, *, replay: str | None = None) -> Query:
    """The SELECT over `table` for requests laid out as `layout`. With `replay` (the `--by`
    signal, or "" for none), the result also has what `policyc simulate` tallies: `@p:row`,
    `@p:group`, `@p:rule`, `@p:climb`, the outcome error where the climb stopped, the request
    error, and the tokens (`simulation_columns`)."""
    builder = _Builder(policy, layout, table)
    return builder.build(builder.simulation_columns(replay) if replay is not None else ())


class _Builder:
    def __init__(self, policy: CheckedPolicy, layout: Layout, table: str) -> None:
        self.policy = policy
        self.layout = layout
        self.table = table
        self.signals = checks(policy, "signal")
        self.outcomes = checks(policy, "outcome")
        self.route = policy.route
        self.cascades = [c.name for c in policy.cascades
                         if any(isinstance(r.target, CascadeTarget) and r.target.cascade == c.name for r in self.route)]
        self.depth = max((len(policy.cascade(c).steps) - 1 for c in self.cascades), default=0)

    # ---- sources ------------------------------------------------------------------------------

    def source(self, name: str) -> Source:
        if self.layout.mode == "json":
            return Json(f"json_extract({col('json')}, {string(_json_key(name))})")
        if name not in self.layout.columns:
            return Absent()
        return source_of(ident(name), self.layout.columns[name], csv=self.layout.mode == "csv")

    def outcomes_json(self) -> str | None:
        """SQL: `@outcomes` as a JSON value, for a JSON line and for CSV (where a cell holds
        the list as JSON text, NULL when the text is no JSON); None when it comes from a typed
        column, or from no column at all."""
        if self.layout.mode == "json":
            return f"json_extract({col('json')}, {string(_json_key('@outcomes'))})"
        if self.layout.mode == "csv" and "@outcomes" in self.layout.columns:
            return col("outcomes")
        return None

    def outcomes_list(self) -> tuple[str, str, str]:
        """(SQL: `@outcomes` is present, SQL: its shape is wrong (R002), SQL: its length)."""
        raw = self.outcomes_json()
        if raw is not None:
            present = f"({raw} IS NOT NULL AND json_type({raw}) <> 'NULL')"
            elements = f"CAST(json_extract({raw}, '$[*]') AS JSON[])"
            wrong = any_of([f"json_type({raw}) <> 'ARRAY'",
                            f"array_length(list_filter({elements}, lambda x: json_type(x) <> 'OBJECT')) > 0"])
            if self.layout.mode == "csv":  # a cell whose text is no JSON is present, and of the wrong shape
                cell = ident("@outcomes")
                unread = f"({cell} IS NOT NULL AND {cell} <> '' AND {raw} IS NULL)"
                return (any_of([unread, present]), any_of([unread, all_of([present, wrong])]),
                        case([(present, f"json_array_length({raw})")], "0"))
            return present, all_of([present, wrong]), f"json_array_length({raw})"
        sql_type = self.layout.columns.get("@outcomes") if self.layout.mode == "typed" else None
        if sql_type is None:
            return FALSE, FALSE, "0"
        column = ident("@outcomes")
        present = f"{column} IS NOT NULL"
        if list_struct_fields(sql_type) is None:
            if sql_type.strip().endswith("[]"):  # a list of something else: wrong unless empty
                return present, f"({present} AND array_length({column}) > 0)", f"array_length({column})"
            return present, present, "0"
        return present, f"({present} AND array_length(list_filter({column}, lambda x: x IS NULL)) > 0)", f"array_length({column})"

    def outcome_element(self, step: int) -> str | None:
        """SQL: element `step` of a JSON `@outcomes` (`outcomes_json`), else None."""
        if self.layout.mode == "json":
            return f"json_extract({col('json')}, {string(_json_key('@outcomes') + f'[{step}]')})"
        raw = self.outcomes_json()
        return None if raw is None else f"json_extract({raw}, {string(f'$[{step}]')})"

    def outcome_source(self, step: int, name: str) -> Source:
        element = self.outcome_element(step)
        if element is not None:
            return Json(f"json_extract({element}, {string(_json_key(name))})")
        fields = list_struct_fields(self.layout.columns.get("@outcomes", "")) or {}
        if name not in fields:
            return Absent()
        return source_of(f"{ident('@outcomes')}[{step + 1}].{ident(name)}", fields[name])

    def unknown_outcome_keys(self, step: int) -> tuple[str, str]:
        """(SQL: element `step` has a key that names no outcome, SQL: the first such key)."""
        known = [c.name for c in self.outcomes]
        element = self.outcome_element(step)
        if element is not None:
            listed = ", ".join(string(k) for k in known) or "''"
            keys = (f"list_filter(json_keys({element}), lambda k: k NOT IN ({listed}) "
                    f"AND json_type(json_extract({element}, '$.\"' || replace(k, '\"', '\\\"') || '\"')) <> 'NULL')")
            return f"array_length({keys}) > 0", f"{keys}[1]"
        fields = list_struct_fields(self.layout.columns.get("@outcomes", "")) or {}
        extra = [f for f in fields if f not in known]
        branches = [(f"{ident('@outcomes')}[{step + 1}].{ident(f)} IS NOT NULL", string(f)) for f in extra]
        return any_of([c for c, _ in branches]), case(branches)

    # ---- stages -------------------------------------------------------------------------------

    def build(self, extra: tuple[tuple[str, str], ...]) -> Query:
        stages: list[tuple[str, str]] = []
        stages.append(("in", self.stage_in()))
        validation, env = self.stage_validate()
        stages.append(("val", validation))
        stages.append(("cond", self.stage_conditions(env)))
        stages.append(("rule", self.stage_rule()))
        stages.append(("climb", self.stage_climb(env)))
        stages.append(("out", self.stage_out()))
        kept = self.kept()
        ctes = ",\n".join(f"{col(name)} AS (\n{body}\n)" for name, body in stages)
        selected = ([ident(k) for k in kept] + [f"{col('o:' + o)} AS {ident(o)}" for o in OUTPUTS]
                    + [f"{sql} AS {ident(name)}" for name, sql in extra])
        text = f"WITH {ctes}\nSELECT {', '.join(selected)}\nFROM {col('out')}\n"
        return Query(text, kept)

    def kept(self) -> tuple[str, ...]:
        return tuple(name for name in self.layout.columns if name != "@p:row")

    def simulation_columns(self, by: str) -> tuple[tuple[str, str], ...]:
        """What simulate tallies per row (section 9.3), beside the decision."""
        index = {c.name: i for i, c in enumerate(self.signals)}
        group = f"CAST({col('s' + str(index[by]) + 'v')} AS VARCHAR)" if by else NULL
        tokens = []
        for key in ("@output_tokens", "@input_tokens"):
            source = self.source(key)
            if "int" in source.sorts():
                value = source.value("int")
                good = all_of([source.is_sort("int"), f"{value} IS NOT NULL", f"{value} >= 0", f"{value} <= {BIGINT_MAX}"])
                # a whole number past BIGINT (or past 38 digits), which Python counts exactly
                unheld = all_of([source.present(), source.is_sort("int"), f"({value} IS NULL OR {value} > {BIGINT_MAX})"])
            else:
                value, good, unheld = NULL, FALSE, FALSE
            tokens.append((source.present(), good, unheld, f"TRY_CAST({value} AS BIGINT)"))
        (out_present, out_good, out_unheld, out_value), (in_present, in_good, in_unheld, in_value) = tokens
        if has_input_tokens(self.policy):
            tokens_column = col(f"s{index['input_tokens']}v")
            itok = f"TRY_CAST({tokens_column} AS BIGINT)"
            in_bad = FALSE
            in_unheld = f"{tokens_column} > {BIGINT_MAX}"  # only where the signal's domain allows it
        else:
            itok = case([(all_of([in_present, in_good]), in_value)], "0")
            in_bad = all_of([in_present, negate(in_good), negate(in_unheld)])
        out_bad = all_of([out_present, negate(out_good), negate(out_unheld)])
        rule = case([(all_of([f"{col('error')} IS NULL", any_of([out_unheld, in_unheld])]), str(UNDECIDED))], col("rule"))
        token_error = case([(out_bad, string("@output_tokens")),
                            (in_bad, string("@input_tokens"))])
        marker = col("climb")
        ocode = case([(f"{marker} = {-(100 + s)}", col(f"o{s}code")) for s in range(self.depth)])
        osignal = case([(f"{marker} = {-(100 + s)}", col(f"o{s}signal")) for s in range(self.depth)])
        broken = f"{col('json')} IS NULL" if self.layout.mode == "json" else FALSE
        return (("@p:broken", broken), ("@p:row", col("row")), ("@p:group", group), ("@p:rule", rule), ("@p:climb", marker),
                ("@p:ocode", ocode), ("@p:osignal", osignal), ("@p:error", col("error")),
                ("@p:error_signal", col("error_signal")), ("@p:unheld", col("unheld")),
                ("@p:token_error", token_error), ("@p:itok", itok),
                ("@p:otok", case([(all_of([out_present, out_good]), out_value)])))

    def stage_in(self) -> str:
        if self.layout.mode == "json":
            parsed = f"TRY_CAST({ident('line')} AS JSON)"  # NULL for a line that is no JSON object
            return f"SELECT *, CASE WHEN json_type({parsed}) = 'OBJECT' THEN {parsed} END AS {col('json')}\nFROM {self.table}"
        if self.outcomes_json() is not None:  # CSV: the cell's JSON text, NULL when it is no JSON
            return f"SELECT *, TRY_CAST({ident('@outcomes')} AS JSON) AS {col('outcomes')}\nFROM {self.table}"
        return f"SELECT *\nFROM {self.table}"

    def stage_validate(self) -> tuple[str, Env]:
        columns: list[str] = []
        plain: dict[str, str] = {}
        numbers = {}
        codes: list[tuple[str, str]] = []
        unheld: list[tuple[str, str]] = []
        for i, check in enumerate(self.signals):
            found = validated(check, self.source(check.name))
            columns.append(f"{found.code} AS {col(f'c{i}')}")
            names = self._value_columns(f"s{i}", found, columns)
            if check.kind in ("bool", "enum"):
                plain[check.name] = names["v"]
            else:
                numbers[check.name] = number(check, names)
            codes.append((f"{col(f'c{i}')} IS NOT NULL", col(f"c{i}")))
            unheld.append((found.unheld, string(check.name)))
        present, wrong_shape, length = self.outcomes_list()
        columns.append(f"{wrong_shape} AS {col('shape')}")
        columns.append(f"{case([(present, length)], '0')} AS {col('n_outcomes')}")
        error = case([(col("shape"), R002)] + [(c, v) for c, v in codes], NULL)
        signal = case([(col("shape"), NULL)] + [(c, string(s.name)) for (c, _), s in zip(codes, self.signals)], NULL)
        columns.append(f"{error} AS {col('error')}")
        columns.append(f"{signal} AS {col('error_signal')}")
        columns.append(f"{case([(c, s) for c, s in unheld], NULL)} AS {col('unheld')}")
        env = Env(plain, numbers, {m.name: m for m in self.policy.models}, has_input_tokens(self.policy))
        return f"SELECT *,\n  " + ",\n  ".join(columns) + f"\nFROM {col('in')}", env

    @staticmethod
    def _value_columns(prefix: str, found: Validated, columns: list[str]) -> dict[str, str]:
        names = {}
        for suffix, sql in found.values.items():
            name = col(f"{prefix}{suffix}")
            columns.append(f"{sql} AS {name}")
            names[suffix] = name
        return names

    def stage_conditions(self, env: Env) -> str:
        columns = [f"{condition(rule.condition, env)} AS {col(f'r{i}')}"
                   for i, rule in enumerate(self.route) if rule.condition is not None]
        return "SELECT *" + "".join(f",\n  {c}" for c in columns) + f"\nFROM {col('val')}"

    def stage_rule(self) -> str:
        branches = [(f"{col('error')} IS NOT NULL", NULL)]
        for i, rule in enumerate(self.route):
            if rule.condition is None:
                branches.append((TRUE, str(i)))
                break
            branches.append((f"{col(f'r{i}')} IS NULL", str(UNDECIDED)))
            branches.append((col(f"r{i}"), str(i)))
        chosen = case(branches, str(NO_RULE))
        # a value the query cannot hold exactly only matters for a valid request
        chosen = case([(f"{col('error')} IS NULL AND {col('unheld')} IS NOT NULL", str(UNDECIDED))], chosen)
        return f"SELECT *, {chosen} AS {col('rule')}\nFROM {col('cond')}"

    def stage_climb(self, env: Env) -> str:
        columns: list[str] = []
        outcome_envs: list[Env] = []
        for step in range(self.depth):
            plain = dict(env.plain)
            numbers = dict(env.numbers)
            codes, unheld = [], []
            for i, check in enumerate(self.outcomes):
                found = validated(check, self.outcome_source(step, check.name))
                code = col(f"o{step}c{i}")
                columns.append(f"{found.code} AS {code}")
                names = self._value_columns(f"o{step}_{i}", found, columns)
                if check.kind in ("bool", "enum"):
                    plain[check.name] = names["v"]
                else:
                    numbers[check.name] = number(check, names)
                codes.append((f"{code} IS NOT NULL", code, string(check.name)))
                unheld.append(found.unheld)
            unknown, first_unknown = self.unknown_outcome_keys(step)
            columns.append(f"{case([(c, v) for c, v, _ in codes] + [(unknown, string(R004.code))], NULL)} AS {col(f'o{step}code')}")
            columns.append(f"{case([(c, s) for c, _, s in codes] + [(unknown, first_unknown)], NULL)} AS {col(f'o{step}signal')}")
            columns.append(f"{any_of(unheld)} AS {col(f'o{step}unheld')}")
            outcome_envs.append(Env(plain, numbers, env.models, env.input_tokens))
        first = f"SELECT *" + "".join(f",\n  {c}" for c in columns) + f"\nFROM {col('rule')}"
        edges: list[str] = []
        for ci, name in enumerate(self.cascades):
            cascade = self.policy.cascade(name)
            for step, edge in enumerate(cascade.edges):
                edges.append(f"{condition(edge.condition, outcome_envs[step])} AS {col(f'e{ci}_{step}')}")
        second = "SELECT *" + "".join(f",\n  {c}" for c in edges) + f"\nFROM ({first})"
        reached = []
        for ci, name in enumerate(self.cascades):
            steps = len(self.policy.cascade(name).steps)
            branches = []
            for step in range(steps - 1):
                branches.append((f"{col('n_outcomes')} <= {step}", str(step + 1)))
                branches.append((f"{col(f'o{step}code')} IS NOT NULL", str(-(100 + step))))
                branches.append((f"{col(f'o{step}unheld')}", str(-(200 + step))))
                branches.append((f"{col(f'e{ci}_{step}')} IS NULL", str(-(200 + step))))
                branches.append((negate(col(f"e{ci}_{step}")), str(step + 1)))
            reached.append(f"{case(branches, str(steps))} AS {col(f'k{ci}')}")
        return "SELECT *" + "".join(f",\n  {c}" for c in reached) + f"\nFROM ({second})"

    def stage_out(self) -> str:
        policy = self.policy
        rule = col("rule")
        climbs = {}
        for i, r in enumerate(self.route):
            if isinstance(r.target, CascadeTarget):
                climbs[i] = col(f"k{self.cascades.index(r.target.cascade)}")
        climb = case([(f"{rule} = {i}", k) for i, k in climbs.items()], "1")
        decisions = [policy.decision_of(r) for r in self.route]

        def by_rule(values: list[str], otherwise: str = NULL) -> str:
            return case([(f"{rule} = {i}", v) for i, v in enumerate(values)], otherwise)

        def names(items: tuple[str, ...]) -> str:
            return "CAST([" + ", ".join(string(s) for s in items) + "] AS VARCHAR[])"

        def ints(items: tuple[int, ...]) -> str:
            return "CAST([" + ", ".join(str(n) for n in items) + "] AS BIGINT[])"

        decided = f"{rule} >= 0"
        none = f"{rule} = {NO_RULE}"
        outputs = {
            "rule": by_rule([string(d[0]) for d in decisions]),
            "model": by_rule([string(d[1]) if d[1] is not None else NULL for d in decisions]),
            "steps": case([(none, names(()))], by_rule([names(d[2]) for d in decisions])),
            "max_output": by_rule([f"CAST({d[3]} AS BIGINT)" if d[3] is not None else NULL for d in decisions]),
            "caps": case([(none, ints(()))], by_rule([ints(d[4]) for d in decisions])),
            "reject": by_rule([string(d[5]) if d[5] is not None else NULL for d in decisions]),
        }
        paths = [(none, names(()))]
        for i, d in enumerate(decisions):
            if i in climbs:
                for k in range(1, len(d[2]) + 1):
                    paths.append((f"{rule} = {i} AND {climbs[i]} = {k}", names(d[2][:k])))
            else:
                paths.append((f"{rule} = {i}", names(d[2][:1])))
        climb_failed = f"{decided} AND {climb} < 0"
        outputs["path"] = case(paths)
        outcome_code = case([(f"{climb} = {-(100 + s)}", col(f"o{s}code")) for s in range(self.depth)])
        outcome_signal = case([(f"{climb} = {-(100 + s)}", col(f"o{s}signal")) for s in range(self.depth)])
        undecided = f"({rule} = {UNDECIDED} OR ({decided} AND {climb} <= -200))"
        outputs["error_code"] = case([(f"{col('error')} IS NOT NULL", col("error")), (undecided, string("S001")),
                                      (climb_failed, outcome_code)])
        outputs["error_signal"] = case([(f"{col('error')} IS NOT NULL", col("error_signal")),
                                        (f"{rule} = {UNDECIDED}", col("unheld")), (climb_failed, outcome_signal)])
        failed = f"({rule} IS NULL OR {rule} = {UNDECIDED} OR ({decided} AND {climb} < 0))"
        columns = []
        for name in OUTPUTS:
            sql = outputs[name]
            if not name.startswith("error"):
                sql = case([(failed, NULL)], sql)
            columns.append(f"{sql} AS {col('o:' + name)}")
        columns.append(f"{climb} AS {col('climb')}")
        return "SELECT *,\n  " + ",\n  ".join(columns) + f"\nFROM {col('climb')}"


def _json_key(name: str) -> str:
    """A JSON path to one key: `$."name"`, the key's quotes escaped."""
    return '$."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


__all__ = ["NO_RULE", "OUTPUTS", "Query", "UNDECIDED", "build", "Typed"]
