"""ChatOps: intents and chat adapters."""
