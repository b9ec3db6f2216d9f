; inherits: javascript
; Shared by typescript and tsx: the JavaScript query serves as it is.
