from gmailfix.cli import main

raise SystemExit(main())
