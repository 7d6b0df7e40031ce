"""Validation, decisions and request errors (section 5), shared by both Python engines.

Standard library only: codegen copies this file's code, below the marker, into each generated
module after the value semantics of `ir/values.py`, so that both engines build the same
`Decision`s and raise the same `RequestError`s with the same messages.
"""

# No `from __future__ import annotations`: the code below runs in compiled modules without it,
# so its annotations are strings or builtins, evaluated here as they are there.
from decimal import Decimal as _Decimal  # in a compiled module, the value semantics import it

from ...ir.values import _INF, _money  # in a compiled module, copied just above

# -- runtime support: copied verbatim into compiled modules below this line --
from abc import ABCMeta as _ABCMeta


class RequestError(ValueError):
    """A request (or outcome object) that does not fit the declared signals: R001-R004."""

    def __init__(self, code: str, signal: object, message: str) -> None:
        ValueError.__init__(self, message)
        self.code = code
        self.signal = signal
        self.message = message

    def as_dict(self) -> "dict[str, object]":
        """The error as JSON-ready data: code, signal (the key at fault, or None), message."""
        return {"code": self.code, "signal": self.signal, "message": self.message}

    def __reduce__(self) -> "tuple[type[RequestError], tuple[str, object, str]]":
        return (type(self), (self.code, self.signal, self.message))


class Decision(metaclass=_ABCMeta):
    """Which model serves a request (section 5): `rule`, `model` (the first to call), `steps`
    (the cascade's models, or one), `max_output` (the first call's cap), `caps` (each step's
    cap, aligned with `steps`) and `reject` (the reason, or None).

    Decisions compare equal when these six fields are equal, whichever engine made them.
    """

    __slots__ = ("rule", "model", "steps", "max_output", "caps", "reject", "_signals")

    def __init__(self, rule: "str | None", model: "str | None", steps: "tuple[str, ...]",
                 max_output: "int | None", caps: "tuple[int, ...]", reject: "str | None",
                 signals: "dict[str, object] | None" = None) -> None:
        self.rule = rule
        self.model = model
        self.steps = steps
        self.max_output = max_output
        self.caps = caps
        self.reject = reject
        self._signals = signals  # what escalation conditions may read; None when they read none

    def _key(self) -> "tuple[str | None, str | None, tuple[str, ...], int | None, tuple[int, ...], str | None]":
        return (self.rule, self.model, tuple(self.steps), self.max_output, tuple(self.caps), self.reject)

    def as_dict(self) -> "dict[str, object]":
        """The six fields as JSON-ready data (steps and caps as lists)."""
        return {"rule": self.rule, "model": self.model, "steps": list(self.steps),
                "max_output": self.max_output, "caps": list(self.caps), "reject": self.reject}

    def __eq__(self, other: object) -> bool:
        # any object with the six fields: another engine's Decision (each compiled module has its own)
        try:
            return self._key() == (other.rule, other.model, tuple(other.steps), other.max_output,  # type: ignore[attr-defined]
                                   tuple(other.caps), other.reject)  # type: ignore[attr-defined]
        except AttributeError:
            return NotImplemented

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return ("Decision(rule=%r, model=%r, steps=%r, max_output=%r, caps=%r, reject=%r)"
                % (self.rule, self.model, tuple(self.steps), self.max_output, tuple(self.caps), self.reject))


def _printable(text: str) -> str:
    """`text` with each character that cannot be printed (a control character, a lone
    surrogate from a JSON escape such as `\\ud800`) written as JSON escapes it, `\\u0000`: a
    message must be printable on any terminal and encodable as UTF-8."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else "\\u%04x" % ord(c) if ord(c) <= 0xFFFF else
                   "\\u%04x\\u%04x" % (0xD800 + ((ord(c) - 0x10000) >> 10), 0xDC00 + ((ord(c) - 0x10000) & 0x3FF))
                   for c in text)


def _shown(value: object) -> str:
    """A value as a request's JSON spells it (`null`, `true`, `"x"`, `1e308`, `NaN`, `a list`),
    never as Python does (`None`, `Decimal('1E+308')`), cut to about 60 characters."""
    cls = value.__class__
    if value is None:
        return "null"
    if cls is bool:
        return "true" if value else "false"
    if isinstance(value, str):
        text = '"%s"' % _printable(value[:60].replace("\\", "\\\\").replace('"', '\\"'))
    elif isinstance(value, int):
        if value.bit_length() > 190:  # str() of a number past 4,300 digits raises; past 57, it is cut
            return "a number of about %d digits" % int(value.bit_length() * 0.30103 + 1)
        text = str(value)
    elif isinstance(value, (float, _Decimal)):
        if value.is_nan() if isinstance(value, _Decimal) else value != value:  # sNaN raises on comparison
            return "NaN"
        if value.is_infinite() if isinstance(value, _Decimal) else value in (_INF, -_INF):
            return "Infinity" if value > 0 else "-Infinity"
        text = repr(value) if cls is float else str(value)
        if "e" in text or "E" in text:  # 1e+308, 1E+308: the exponent as JSON writes it, 1e308
            mantissa, _, exponent = text.lower().partition("e")
            text = "%se%d" % (mantissa, int(exponent))
    elif isinstance(value, (list, tuple)):
        return "a list"
    elif isinstance(value, dict):
        return "an object"
    else:
        return "a value of type %s" % cls.__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _missing(role: str, name: str) -> RequestError:
    return RequestError("R001", name, "missing required %s '%s'" % (role, name))


def _wrong_type(role: str, name: str, expected: str, value: object) -> RequestError:
    return RequestError("R002", name, "%s '%s' must be %s, got %s" % (role, name, expected, _shown(value)))


def _out_of_domain(role: str, name: str, domain: str, value: object) -> RequestError:
    return RequestError("R003", name, "%s '%s' must be %s, got %s" % (role, name, domain, _shown(value)))


def _unknown_key(role: str, name: object,
                 known: "tuple[str, ...] | frozenset[str] | dict[str, dict[str, object]]" = ()) -> RequestError:
    """R004. Signals only in strict mode; outcomes always (a typo would stop every climb)."""
    from difflib import get_close_matches  # here, not at import: a module's first import stays short

    close = get_close_matches(str(name), [str(k) for k in known], 1)
    hint = "; did you mean '%s'?" % close[0] if close else ""
    return RequestError("R004", name, "unknown %s '%s'%s%s"
                        % (role, _printable(str(name)), " (strict mode)" if role == "signal" else "", hint))


def _not_a_mapping(role: str, value: object) -> RequestError:
    return RequestError("R002", None, "a request is an object of %s names to values, not %s"
                        % (role, _shown(value)))


def _request(values: object, role: str) -> "dict[object, object]":
    """A request (or outcome object) as a dict; anything that is no mapping is R002."""
    if values.__class__ is dict:
        return values
    try:
        return dict(values.items())  # type: ignore[attr-defined]  # any object with items(); the rest is R002
    except (AttributeError, TypeError, ValueError):
        raise _not_a_mapping(role, values) from None


def _check(role: str, name: str, value: object,
           spec: "tuple[str, int | float | _Decimal | None, int | float | _Decimal | None, frozenset[str], str, str]"
           ) -> object:
    """One value against its declaration, every case; the fast paths of both engines only
    take shortcuts that give the same answer. `spec` is (kind, low, high, members, expected,
    domain). Returns the value to use: money and durations read exactly."""
    kind, low, high, members, expected, domain = spec
    cls = value.__class__
    if kind == "bool":
        if cls is not bool:
            raise _wrong_type(role, name, expected, value)
        return value
    if kind == "enum":
        if cls is not str and not isinstance(value, str):
            raise _wrong_type(role, name, expected, value)
        if value not in members:
            raise _out_of_domain(role, name, domain, value)
        return value
    if cls is bool:
        raise _wrong_type(role, name, expected, value)
    if isinstance(value, float):
        if kind == "int":
            raise _wrong_type(role, name, expected, value)
        if value != value or value == _INF or value == -_INF:
            raise _out_of_domain(role, name, domain, value)
        if kind != "float":
            value = _money(float(value))
    elif isinstance(value, _Decimal) and kind == "money":
        if not value.is_finite():
            raise _out_of_domain(role, name, domain, value)
    elif not isinstance(value, int):
        raise _wrong_type(role, name, expected, value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise _out_of_domain(role, name, domain, value)
    return value















def _not_serving(model: str, rule: str) -> ValueError:
    return ValueError("model %r does not serve rule %r: it is none of the rule's steps and no "
                      "fallback of one" % (model, rule))


_ERRORS = ("unavailable", "rate_limited", "timeout", "server_error", "content_filtered")


def _step_of(rule: str, steps: "tuple[str, ...]", serves: "dict[str, tuple[int, ...]]", step: object) -> int:
    """The index of the answered step: `step` itself, or the one step a model name can mean
    (its own, or the one step a fallback of it can serve); else ValueError saying why."""
    if step.__class__ is int:
        if 0 <= step < len(steps):
            return step
        raise ValueError("step %d is not a step of rule %r, which has %d" % (step, rule, len(steps)))
    if not isinstance(step, str):
        raise TypeError("step is the index of the answered step in decision.steps (or a model's "
                        "name), not %s" % type(step).__name__)
    found = serves.get(step, ())
    if len(found) == 1:
        return found[0]
    if not found:
        raise _not_serving(step, rule)
    raise ValueError("model %r may answer step %s of rule %r; pass the index of the step it answered"
                     % (step, " or ".join("%d (%s)" % (i, steps[i]) for i in found), rule))


def _fallback_of(fallbacks: "dict[str, dict[str, str]]", serving: "frozenset[str] | dict[str, dict[str, object]]",
                 model: str, error: str) -> "str | None":
    """What serves when `model` fails with `error` (section 3.6), or None."""
    if error not in _ERRORS:
        raise ValueError("%r is no provider error; the errors are %s" % (error, ", ".join(_ERRORS)))
    if model not in serving:
        raise ValueError("model %r serves no request of this policy" % (model,))
    return fallbacks.get(model, {}).get(error)
