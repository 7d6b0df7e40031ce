"""The SQL back end (section 12): a policy compiled to one SELECT over a table of requests,
generated once from the typed IR and translated to each dialect."""
