"""``python -m engine``: run the engine process (the same as ``infill engine``)."""

from engine.host.server import main

raise SystemExit(main())
