"""`policylang.runtime` (section 13): run decisions in an app, calling the models, climbing
cascades, taking fallbacks, accounting cost and logging every decision."""
