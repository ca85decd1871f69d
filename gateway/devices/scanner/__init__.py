"""Barcode scanners: ``opener`` picks the driver for an address; ``events`` holds the scans
and their subscribers; ``driver`` what every scanner driver shares; ``serial_line`` the
serial and TCP scanners; ``hid`` the USB keyboard-wedge scanner, with ``input_devices``
(which input device) and ``evdev_backend`` (python-evdev). The tests replay recorded
events through the same interface (``tests/devices/input_recording.py``)."""
