"""`python -m mailkit_async`: the `mailkit-async` command line."""

from .cli import main

raise SystemExit(main())
