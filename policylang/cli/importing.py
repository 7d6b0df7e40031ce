"""`policyc import litellm|portkey CONFIG [-o OUT.route]`: a router config a team already has,
as a policy policyc can check (the `import` extra reads LiteLLM's YAML)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..importers.draft import ConfigError, Imported
from ..linting import lint as lint_files
from .common import FAILED, FINE, fail_usage, main, plural


@main.group("import")
def import_() -> None:
    """Turn a LiteLLM or Portkey routing config into a .route policy.

    The policy says in `# TODO` comments (and in warnings on standard error) whatever the
    config says that a policy does not carry over; `policyc lint` checks the rest.
    """


TOO_DEEP = "nested too deep to read (no router config nests more than a few levels)"
TOO_LONG = "a number too long to read (thousands of digits): no router setting is that large"


def _read(path: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail_usage(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}")


def _write(imported: Imported, config: str, output: str | None) -> None:
    for warning in imported.warnings:
        click.echo(f"warning: {warning}", err=True)
    if output is None:
        click.echo(imported.text, nl=False)
        return
    try:
        Path(output).write_text(imported.text, encoding="utf-8")
    except OSError as exc:
        fail_usage(f"cannot write {output}: {exc.strerror or exc}")
    result = lint_files([output])
    todos = plural(len(imported.warnings), "TODO")
    click.echo(f"wrote {output} from {config} ({todos}); policyc lint: {plural(result.errors, 'error')}, "
               f"{plural(result.warnings, 'warning')}", err=True)
    sys.exit(FAILED if result.errors else FINE)


def _name(config: str, output: str | None) -> str:
    return Path(output).stem if output else Path(config).stem if config != "-" else "imported"


@import_.command("litellm")
@click.argument("config", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="the policy to write (default: standard output)")
def litellm(config: str, output: str | None) -> None:
    """A LiteLLM proxy config (config.yaml: model_list, router_settings, litellm_settings).

    With -o, the policy is written and linted: exit 1 when it has errors (a TODO the config
    left open, such as a model without prices), 0 otherwise; 2 for a config that cannot be read.
    """
    try:
        import yaml
    except ImportError:
        fail_usage("reading LiteLLM's YAML needs PyYAML: pip install 'policylang[import]'")
    from ..importers.litellm import import_litellm

    text = _read(config)
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{config}:{mark.line + 1}:{mark.column + 1}" if mark is not None else config
        fail_usage(f"{where}: not YAML: {getattr(exc, 'problem', None) or exc}")
    except RecursionError:
        fail_usage(f"{config}: {TOO_DEEP}")
    except ValueError:  # a YAML integer too long for Python, or a date no calendar has
        fail_usage(f"{config}: a value YAML cannot convert (a number thousands of digits long, or a date no "
                   "calendar has)")
    try:
        imported = import_litellm(data, _name(config, output), Path(config).name)
    except ConfigError as exc:
        fail_usage(f"{config}: {exc}")
    _write(imported, config, output)


@import_.command("portkey")
@click.argument("config", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="the policy to write (default: standard output)")
def portkey(config: str, output: str | None) -> None:
    """A Portkey gateway config (JSON: strategy fallback, loadbalance or conditional, targets).

    With -o, the policy is written and linted: exit 1 when it has errors, 0 otherwise; 2 for a
    config that cannot be read.
    """
    from ..importers.portkey import import_portkey

    text = _read(config)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        fail_usage(f"{config}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}")
    except RecursionError:
        fail_usage(f"{config}: {TOO_DEEP}")
    except ValueError:  # an integer too long for Python to read
        fail_usage(f"{config}: {TOO_LONG}")
    try:
        imported = import_portkey(data, _name(config, output), Path(config).name)
    except ConfigError as exc:
        fail_usage(f"{config}: {exc}")
    _write(imported, config, output)
