"""The one exception the C library's failures become.

Every libattend function returns an at_status; on failure the context keeps
a readable message (at_ctx_error). The binding raises AttendError carrying
both, so a learner reads the library's own words. Bad arrays are refused
before any C call with the ordinary Python exceptions (TypeError for a
dtype, ValueError for a shape, a NaN or a layout): see _arrays.py.
"""


class AttendError(RuntimeError):
    """A libattend call failed: status is the status name (e.g. "shape
    error"), message the context's message."""

    def __init__(self, status, message):
        self.status = status
        self.message = message
        super().__init__(f"{status}: {message}")
