"""The built-in ops, grouped by kind. Each op class keeps forward and backward together."""
