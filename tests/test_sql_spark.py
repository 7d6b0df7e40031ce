"""The spark dialect's query on a local pyspark session (`local[2]`) gives the interpreter's rows
on a fixed corpus of policies and requests (canonical typed columns). Needs the `spark` extra
and a Java runtime (Debian's default-jre-headless)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import types as T

import policylang
from policylang.backends.sql import to_sql
from policylang.simulation.traffic import normalized

from conftest import EXAMPLES
from test_sql import BOUNDARIES

pytestmark = pytest.mark.slow  # a local Spark session: ~40 s to start and run


@pytest.fixture(scope="module")
def spark():
    session = (SparkSession.builder.master("local[2]").appName("policylang-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.decimalOperations.allowPrecisionLoss", "false")
               .config("spark.sql.ansi.enabled", "true")  # Spark 4's default, where an index past the end fails
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


_TYPES = {"bool": T.BooleanType(), "int": T.LongType(), "float": T.DoubleType(), "money": T.DecimalType(38, 18),
          "duration": T.DoubleType(), "enum": T.StringType()}


def _schema(policy: policylang.Policy) -> T.StructType:
    outcome = T.StructType([T.StructField(s.name, _TYPES[s.type.kind]) for s in policy.ir.outcomes])
    fields = [T.StructField(s.name, _TYPES[s.type.kind]) for s in policy.ir.inputs]
    fields.append(T.StructField("@outcomes", T.ArrayType(outcome)))
    fields.append(T.StructField("@output_tokens", T.LongType()))
    return T.StructType(fields)


def _expected(policy: policylang.Policy, record: dict) -> tuple:
    record = normalized(record)
    signals = {k: v for k, v in record.items() if not k.startswith("@")}
    try:
        decision = policy.decide(signals, engine="interpreted")
        path = policy.path(decision, record.get("@outcomes") or [], engine="interpreted")
    except policylang.RequestError as exc:
        return (None,) * 7 + (exc.code, exc.signal)
    return (decision.rule, decision.model, list(decision.steps), decision.max_output, list(decision.caps),
            decision.reject, path, None, None)


def _key(values) -> str:
    return repr(tuple(v.normalize() if isinstance(v, Decimal) else v for v in values))


CORPUS = {
    "bounds": (BOUNDARIES, [
        {"n": 1, "f": 0.1, "g": 0.2},
        {"n": 1, "f": 0.1, "g": 0.25},
        {"n": 3, "spend": Decimal("0.10"), "tier": "pro"},
        {"n": 3, "spend": Decimal("0.31")},
        {"n": 3, "wait": 1.5},
        {"n": 3, "wait": 1.25},
        {"n": 2},
        {"n": 11},
        {"f": 0.5},
        {"n": 3, "tier": "PRO"},
        {"n": 3, "g": 2.5, "@outcomes": [{"q": 0.25}]},
        {"n": 3, "g": -1.0, "@outcomes": [{"q": 0.75}]},
        {"n": 3, "f": float("nan")},
        {"n": 3, "vip": True, "g": 1.0},
        {"n": 3, "g": 2.5, "@outcomes": []},  # a list shorter than the cascade: no element 1
    ]),
    "support_desk": ((EXAMPLES / "support_desk.route").read_text(), [
        {"task": "classify", "input_tokens": 300, "@outcomes": [{"confidence": 0.4}, {"confidence": 0.3}]},
        # lists shorter than the cascade (two edges): Spark 4's ANSI mode once failed the whole
        # query with [INVALID_ARRAY_INDEX] on them
        {"task": "extract", "input_tokens": 2000, "@outcomes": [{"confidence": 0.6}]},
        {"task": "extract", "input_tokens": 2000, "@outcomes": [{"confidence": 0.95}]},
        {"task": "format", "input_tokens": 10, "@outcomes": []},
        {"task": "legal_review", "input_tokens": 1200},
        {"task": "summarize", "input_tokens": 4000},
        {"task": "summarize", "input_tokens": 4001, "pii": True},
        {"task": "draft", "input_tokens": 250_000},
        {"task": "nope", "input_tokens": 1},
        {"input_tokens": 5},
        {"task": "code", "input_tokens": 9000, "tool_count": 4},
    ]),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_spark_rows_equal_the_interpreter(spark, name):
    text, records = CORPUS[name]
    policy = policylang.loads(text, str(EXAMPLES / f"{name}.route"), analyze=False)
    schema = _schema(policy)
    rows = []
    for record in records:
        row = []
        for field in schema.fields:
            value = record.get(field.name)
            if field.name == "@outcomes" and value is not None:
                value = [tuple(o.get(f.name) for f in field.dataType.elementType.fields) for o in value]
            if isinstance(field.dataType, T.DecimalType) and isinstance(value, float):
                value = Decimal(repr(value))
            row.append(value)
        rows.append(tuple(row))
    spark.createDataFrame(rows, schema).createOrReplaceTempView("requests")
    got = spark.sql(to_sql(policy.ir, dialect="spark")).collect()
    assert len(got) == len(records)
    outputs = ("rule", "model", "steps", "max_output", "caps", "reject", "path", "error_code", "error_signal")
    by_input = {}
    for row in got:
        key = _key(row[f.name] for f in schema.fields if f.name != "@outcomes")
        by_input.setdefault(key, []).append(tuple(row[o] for o in outputs))
    for record, raw in zip(records, rows):
        key = _key(v for v, f in zip(raw, schema.fields) if f.name != "@outcomes")
        typed = {f.name: v for f, v in zip(schema.fields, raw) if f.name != "@outcomes"}
        typed["@outcomes"] = record.get("@outcomes")
        want = _expected(policy, typed)
        assert want in by_input[key], f"{record}: spark {by_input[key]}, interpreter {want}"
