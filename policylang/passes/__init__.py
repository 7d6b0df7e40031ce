"""The passes: name resolution, type checking and the analyses, run by `pipeline.check`."""

from .pipeline import Checked, analyze_policy, check

__all__ = ["Checked", "analyze_policy", "check"]
