"""A simulated serial barcode scanner, served on a pty or TCP."""

from firmware_sim.scanner.device import ScanError, Scanner, ScannerConfig, unescape

__all__ = ["ScanError", "Scanner", "ScannerConfig", "unescape"]
