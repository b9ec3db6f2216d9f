; Headers a document includes (@module: "path/to/name.h"; its stem names the header's file).
(preproc_include path: (string_literal) @module)
