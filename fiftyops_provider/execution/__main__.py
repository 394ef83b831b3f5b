"""``python -m fiftyops_provider.execution``: the local launcher (see ``launcher``)."""

from fiftyops_provider.execution.launcher import main

raise SystemExit(main())
