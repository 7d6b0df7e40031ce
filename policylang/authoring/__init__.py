"""Authoring tools for policies under review: one layout (`fmt`), why a request got its decision
(`explain`), the policy as a diagram (`graph`), what a change sends elsewhere (`diff`), and
which rules the tests exercise (`coverage`)."""
