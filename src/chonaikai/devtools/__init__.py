"""Demo data and fakes for `chonaikai demo` and the tests: the fake LINE server, the demo
mail catcher and its /dev/mail page, demo households and notices. Shipped (so `make run` works),
never used by the service itself."""
