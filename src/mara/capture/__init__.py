"""Traffic capture: every served batch kept on disk, written before its answer goes out."""

from mara.capture.writer import CaptureWriter, captured_dir

__all__ = ["CaptureWriter", "captured_dir"]
