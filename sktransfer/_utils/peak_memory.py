"""Peak memory of a block of code: the process's resident set size, sampled.

:class:`PeakMemory` is what :func:`sktransfer.compare.compare_models` wraps
around each fit and prediction; the module docstring of
:mod:`sktransfer.compare` says how the peak is measured and what it includes.
"""

import os
import threading

_MB = 1024.0 * 1024.0


def _rss_reader():
    """A function that returns the current RSS in bytes, or None where none can be read."""
    try:
        import psutil

        process = psutil.Process()
        return lambda: process.memory_info().rss
    except ImportError:
        pass
    if os.path.exists("/proc/self/statm"):
        page = os.sysconf("SC_PAGE_SIZE")

        def read():
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * page

        return read
    return None


def _maxrss():
    """The process's lifetime peak RSS in bytes, or None."""
    try:
        import resource
        import sys
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS: bytes, Linux: KiB


class PeakMemory:
    """Context manager: peak RSS above the starting RSS, in MiB (``.peak_mb``)."""

    def __init__(self, interval=0.005):
        self.interval = interval
        self.read = _rss_reader()
        self.peak_mb = None

    def __enter__(self):
        if self.read is None:
            return self
        self._stop = threading.Event()
        self._start_max = _maxrss()
        self.baseline = self.peak = self.read()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.read())

    def __exit__(self, *exc):
        if self.read is None:
            return False
        self._stop.set()
        self._thread.join()
        peak = max(self.peak, self.read())
        end_max = _maxrss()
        if end_max is not None and self._start_max is not None and end_max > self._start_max:
            peak = max(peak, end_max)  # a new lifetime peak: it happened during this block
        self.peak_mb = max(0.0, (peak - self.baseline) / _MB)
        return False
