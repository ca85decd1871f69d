"""The control unit (kontrollenhet) of every kind behind one interface.

``interface`` is what the fiscal pipeline sees (:class:`ControlUnit`); ``kinds`` reads a
``[control_unit]`` section and opens its driver; ``operation`` holds the tries, deadlines
and words every driver shares. The drivers: ``ccsp_driver`` (CleanCash on a serial line
or TCP), ``http_driver`` (what the HTTP drivers share), ``xccsp_driver`` (CleanCash over
HTTP), ``cloud_driver`` and ``client_cert`` (what the cloud services share),
``tcs_driver`` (Infrasec CCU) and ``srv4pos_driver``.

Nothing is imported here, so reading the configuration loads no driver.
"""
