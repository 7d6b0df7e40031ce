"""Validation, decisions and request errors (section 5), shared by both Python engines.

Standard library only: codegen copies this file's code, below the marker, into each generated
module after the value semantics of `ir/values.py`, so that both engines build the same
`Decision`s and raise the same `RequestError`s with the same messages.
"""

from ...ir.values import _INF, _Decimal, _money  # in a compiled module, copied just above

# -- runtime support: copied verbatim into compiled modules below this line --
from abc import ABCMeta as _ABCMeta
from difflib import get_close_matches as _close_matches


class RequestError(ValueError):
    """A request (or outcome object) that does not fit the declared signals: R001-R004."""

    def __init__(self, code, signal, message):
        ValueError.__init__(self, message)
        self.code = code
        self.signal = signal
        self.message = message

    def as_dict(self):
        return {"code": self.code, "signal": self.signal, "message": self.message}

    def __reduce__(self):
        return (type(self), (self.code, self.signal, self.message))


class Decision(metaclass=_ABCMeta):
    """Which model serves a request (section 5): `rule`, `model` (the first to call), `steps`
    (the cascade's models, or one), `max_output` (the first call's cap), `caps` (each step's
    cap, aligned with `steps`) and `reject` (the reason, or None).

    Decisions compare equal when these six fields are equal, whichever engine made them.
    """

    __slots__ = ("rule", "model", "steps", "max_output", "caps", "reject", "_signals")

    def __init__(self, rule, model, steps, max_output, caps, reject, signals=None):
        self.rule = rule
        self.model = model
        self.steps = steps
        self.max_output = max_output
        self.caps = caps
        self.reject = reject
        self._signals = signals  # what escalation conditions may read; None when they read none

    def _key(self):
        return (self.rule, self.model, tuple(self.steps), self.max_output, tuple(self.caps), self.reject)

    def as_dict(self):
        return {"rule": self.rule, "model": self.model, "steps": list(self.steps),
                "max_output": self.max_output, "caps": list(self.caps), "reject": self.reject}

    def __eq__(self, other):
        try:
            return self._key() == (other.rule, other.model, tuple(other.steps), other.max_output,
                                   tuple(other.caps), other.reject)
        except AttributeError:
            return NotImplemented

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return ("Decision(rule=%r, model=%r, steps=%r, max_output=%r, caps=%r, reject=%r)"
                % (self.rule, self.model, tuple(self.steps), self.max_output, tuple(self.caps), self.reject))


def _shown(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _missing(role, name):
    return RequestError("R001", name, "missing required %s '%s'" % (role, name))


def _wrong_type(role, name, expected, value):
    return RequestError("R002", name, "%s '%s' must be %s, got %s %s"
                        % (role, name, expected, type(value).__name__, _shown(value)))


def _out_of_domain(role, name, domain, value):
    return RequestError("R003", name, "%s '%s' must be %s, got %s" % (role, name, domain, _shown(value)))


def _unknown_key(role, name, known=()):
    """R004. Signals only in strict mode; outcomes always (a typo would stop every climb)."""
    close = _close_matches(str(name), [str(k) for k in known], 1)
    hint = "; did you mean '%s'?" % close[0] if close else ""
    return RequestError("R004", name, "unknown %s '%s'%s%s"
                        % (role, name, " (strict mode)" if role == "signal" else "", hint))


def _not_a_mapping(role, value):
    return RequestError("R002", None, "a request is an object of %s names to values, got %s"
                        % (role, type(value).__name__))


def _request(values, role):
    """A request (or outcome object) as a dict; anything that is no mapping is R002."""
    if values.__class__ is dict:
        return values
    try:
        return dict(values.items())
    except (AttributeError, TypeError, ValueError):
        raise _not_a_mapping(role, values) from None


def _check(role, name, value, spec):
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















def _not_serving(model, rule):
    return ValueError("model %r does not serve rule %r: it is none of the rule's steps and no "
                      "fallback of one" % (model, rule))


_ERRORS = ("unavailable", "rate_limited", "timeout", "server_error", "content_filtered")


def _step_of(rule, steps, serves, step):
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


def _fallback_of(fallbacks, serving, model, error):
    """What serves when `model` fails with `error` (section 3.6), or None."""
    if error not in _ERRORS:
        raise ValueError("%r is no provider error; the errors are %s" % (error, ", ".join(_ERRORS)))
    if model not in serving:
        raise ValueError("model %r serves no request of this policy" % (model,))
    return fallbacks.get(model, {}).get(error)
