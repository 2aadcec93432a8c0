"""The offline teacher: procedural exercise families and lessons, the embedded default when no LLM endpoint
is configured. A documented stand-in for an LLM teacher: every exercise is correct by construction and still
verified in the sandbox like any teacher's answer."""
