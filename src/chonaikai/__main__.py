from chonaikai.cli import main

raise SystemExit(main())
