from clover.cli import main

raise SystemExit(main())
