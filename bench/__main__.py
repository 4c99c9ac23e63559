"""`python -m bench`: the whole benchmark in one command (see bench/suite.py for the options)."""

from bench.suite import main

raise SystemExit(main())
