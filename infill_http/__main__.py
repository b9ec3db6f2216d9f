"""``python -m infill_http``: the engine process with its HTTP API (the same as ``infill engine``)."""

from infill_http.command import main

raise SystemExit(main())
