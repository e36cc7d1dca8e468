"""Root cause: evidence, rules, classifier, verification, severity."""
