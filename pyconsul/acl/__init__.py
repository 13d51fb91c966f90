"""ACLs: the rule language, authorizers, token resolution and their built-in objects."""
