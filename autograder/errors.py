"""What can go wrong when the student's code is called, as the checks see it.

Shared by the grader's sandbox and the notebook self-check (it ships in the student
package; the sandbox does not)."""
from __future__ import annotations


class StudentError(Exception):
    """The student's code raised. `kind` is the exception type's name."""

    def __init__(self, kind: str, message: str, trace: str = ""):
        super().__init__(f"{kind}: {message}")
        self.kind, self.message, self.trace = kind, message, trace


class StudentTimeout(StudentError):
    def __init__(self, seconds: float, why: str = "an infinite loop?"):
        super().__init__("Timeout", f"did not finish within {seconds:g} s ({why})")


class StudentCrashed(StudentError):
    def __init__(self, detail: str):
        super().__init__("Crash", detail)


class NotDefined(StudentError):
    def __init__(self, name: str):
        super().__init__("NameError", f"`{name}` is not defined in the notebook")
        self.name = name
