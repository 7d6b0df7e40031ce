"""Importers: the router configuration a team already has (LiteLLM, Portkey) as a `.route`
policy that policyc can check."""
