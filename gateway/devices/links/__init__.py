"""How a device is reached: serial settings (``line``), serial and TCP links (``link``),
USB bulk links (``usb_link``) and what a USB id is (``usb_ids``), and the one task that
owns a port and runs every exchange on it in turn (``port``)."""
