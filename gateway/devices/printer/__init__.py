"""The ESC/POS receipt printer and the cash drawer on it: ``status`` (the status bytes in
words), ``job`` (a print job and its result), ``link`` (serial, TCP or USB, and reopening
it), ``driver`` (the port owner that runs the jobs) and ``drawer`` (the kick and its
outcome); ``settings`` (the choices a configuration makes)."""
