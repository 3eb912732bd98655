"""End-to-end pipelines: evidence, presence, rules, tables, quality report, the CLI."""
