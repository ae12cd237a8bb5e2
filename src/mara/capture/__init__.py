"""Traffic capture: every served batch kept on disk, written off the request path."""

from mara.capture.writer import CaptureWriter, captured_dir

__all__ = ["CaptureWriter", "captured_dir"]
