"""infill's editor side: the language server (``infill serve``) and the command-line tools.

Importing this package imports neither torch nor onnxruntime.
"""

__version__ = "0.1.0"
