"""infill's editor side: the language server (``infill serve``) and the command-line tools.

Importing this package imports neither torch nor onnxruntime.
"""


def __getattr__(name: str) -> str:
    if name == "__version__":  # read from the package metadata when asked (infill_lsp.version)
        from infill_lsp.version import package_version

        return package_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
