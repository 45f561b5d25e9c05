"""Issue 14: holes a hostile tester found, one test per finding (each failed before its fix)."""
