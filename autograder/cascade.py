"""Point a failure at its cause: when an exercise fails and a function it depends on (one it
calls, such as its step function or an earlier chapter's pasted code, or the forward whose
cache a backward uses) fails its own checks, say so first.

The policy, as the README states it: each exercise is graded on its own, with its own cases,
and keeps what it earns; nothing is taken off twice or given back. But an exercise's score
depends on every function it calls, so its feedback names the failing function at the
bottom of the chain ("rnn_forward calls your rnn_step_forward, which fails its own checks:
fix that first"). Who calls whom is read from the notebook (`Program.uses`), the same way
in the notebook's check() and in the grader.
"""
from __future__ import annotations

from typing import Callable

from autograder.checks import CheckResult


def forwards() -> dict[str, str | None]:
    """Every exercise of the book, mapped to the forward whose cache it uses (or None)."""
    from autograder.exercises import CHAPTERS
    return {ex.name: ex.forward.name if ex.forward else None for c in CHAPTERS for ex in c.EXERCISES}


def dependencies(name: str, uses: dict[str, set[str]], forwards: dict[str, str]) -> dict[str, list[str]]:
    """The exercises `name` depends on, each with the chain of exercises leading to it
    (breadth first: the shortest chain). `forwards` maps each backward exercise to the
    forward whose cache it uses (a dependency the code does not show); `uses` keys the
    functions the notebook defines, so every exercise is a key of `forwards` or not."""
    found: dict[str, list[str]] = {}
    todo = [(name, [])]
    seen = {name}
    exercises = set(forwards)
    while todo:
        current, chain = todo.pop(0)
        called = sorted(uses.get(current, ()))
        if forwards.get(current):
            called = [forwards[current]] + called
        for used in called:
            if used in seen:
                continue
            seen.add(used)
            if used in exercises and used != name:
                found.setdefault(used, chain)
                todo.append((used, chain + [used]))
            elif used not in exercises:   # a helper of the student's own: look through it
                todo.append((used, chain))
    return found


def notes(name: str, uses: dict[str, set[str]], forwards: dict[str, str],
          fails: Callable[[str], bool]) -> list[str]:
    """A note for each failing dependency at the bottom of a chain: one whose own
    dependencies all pass. (`forwards`: every exercise, mapped to its forward or None.)"""
    deps = dependencies(name, uses, forwards)
    forward = forwards.get(name)
    failing = [d for d in deps if fails(d)]
    bottom = [d for d in failing if not any(fails(e) for e in dependencies(d, uses, forwards))]
    out = []
    for d in bottom:
        if d == forward:   # value_check says this one already ("uses the cache from ...")
            continue
        through = deps[d]
        via = f" (through your {', '.join(through)})" if through else ""
        verb = "uses" if forward and through[:1] == [forward] else "calls"
        out.append(f"note: {name} {verb} your {d}{via}, which fails its own checks: fix that first")
    return out


def add_notes(results: list[CheckResult], lines: list[str]) -> list[CheckResult]:
    """The notes first in the message of each failed check."""
    if not lines:
        return results
    head = "\n".join(lines)
    for r in results:
        if not r.passed and head not in r.message:
            r.message = f"{head}\n{r.message}"
    return results
