"""`python -m policylang.cli ARGS`: the same as `policyc ARGS` (handy under `python -X importtime`)."""

from . import main

main(prog_name="policyc")
