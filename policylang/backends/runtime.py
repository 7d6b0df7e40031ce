"""Runtime support shared by the interpreter and every compiled module.

Standard library only: codegen copies this file's code, below the marker, into each generated
module, so that both engines build the same `Decision`s and raise the same `RequestError`s
with the same messages.
"""

# -- runtime support: copied verbatim into compiled modules below this line --
from abc import ABCMeta as _ABCMeta
from decimal import MAX_EMAX as _MAX_EMAX
from decimal import MAX_PREC as _MAX_PREC
from decimal import MIN_EMIN as _MIN_EMIN
from decimal import Context as _Context
from decimal import Decimal as _Decimal

_EXACT = _Context(prec=_MAX_PREC, Emax=_MAX_EMAX, Emin=_MIN_EMIN)
"""Money and durations add and multiply without rounding, whatever the app's decimal context."""


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
    """Which model serves a request: `rule`, `model`, `steps`, `max_output`, `reject`.

    Decisions compare equal when these five fields are equal, whichever engine made them.
    """

    __slots__ = ("rule", "model", "steps", "max_output", "reject", "_signals")

    def __init__(self, rule, model, steps, max_output, reject, signals=None):
        self.rule = rule
        self.model = model
        self.steps = steps
        self.max_output = max_output
        self.reject = reject
        self._signals = signals  # what escalation conditions may read; None when they read none

    def _key(self):
        return (self.rule, self.model, tuple(self.steps), self.max_output, self.reject)

    def as_dict(self):
        return {"rule": self.rule, "model": self.model, "steps": list(self.steps),
                "max_output": self.max_output, "reject": self.reject}

    def __eq__(self, other):
        try:
            return self._key() == (other.rule, other.model, tuple(other.steps), other.max_output, other.reject)
        except AttributeError:
            return NotImplemented

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return ("Decision(rule=%r, model=%r, steps=%r, max_output=%r, reject=%r)"
                % (self.rule, self.model, tuple(self.steps), self.max_output, self.reject))


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


def _unknown_key(role, name):
    return RequestError("R004", name, "unknown %s '%s' (strict mode)" % (role, name))


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


_INF = float("inf")


def _money(value):
    """A money or duration value, exact: a float is read as the decimal its repr shows."""
    return _Decimal(repr(value)) if value.__class__ is float else value


def _exact_sum(terms, signs):
    """Money or durations, left to right, exactly."""
    total = terms[0]
    for term, sign in zip(terms[1:], signs[1:]):
        total = _EXACT.add(total, term) if sign > 0 else _EXACT.subtract(total, term)
    return total


def _dec(value):
    """A number as the exact decimal it shows: a float by its repr (0.1 is 1/10), as the
    checker reads it; ints and decimals as they are."""
    return _Decimal(float.__repr__(value)) if isinstance(value, float) else value


def _number_sum(terms, signs):
    """A long sum of numbers, left to right, as `a + b - c` adds (sum() may compensate floats)."""
    total = terms[0]
    for term, sign in zip(terms[1:], signs[1:]):
        total = total + term if sign > 0 else total - term
    return total


def _set_compare(op, left, right):
    """Label sets; None is "anywhere", the set of every label (section 3.4)."""
    if left is None or right is None:
        equal = left is None and right is None
        subset, superset = right is None, left is None
        return {"==": equal, "!=": not equal, "<=": subset, ">=": superset,
                "<": subset and not equal, ">": superset and not equal}[op]
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if op == "<=":
        return left <= right
    if op == ">=":
        return left >= right
    if op == "<":
        return left < right
    return left > right


def _has_label(label, labels):
    return labels is None or label in labels


def _not_serving(model, rule):
    return ValueError("model %r does not serve rule %r: it is none of the rule's steps and no "
                      "fallback of one" % (model, rule))
