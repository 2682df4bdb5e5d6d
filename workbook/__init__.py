"""The no-magic kata workbook harness.

This package holds the one exception skeletons raise (`KataTodo`), the pytest
plugin that grades katas (`workbook.plugin`), the skeleton generator
(`workbook.build`) and the command line (`python -m workbook`).

Importing it must stay cheap and standard-library only: every kata skeleton
does `from workbook import KataTodo`.
"""

__all__ = ["KataTodo"]


class KataTodo(NotImplementedError):
    """Raised by a task the learner has not written yet.

    The message has the form ``"<kata>.<function>: <one-line task>"``. The
    pytest plugin reports it as TODO (with the stub's file:line) rather than
    as a failure with a traceback.
    """
