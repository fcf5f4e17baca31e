"""Known mistakes: the instructor's catalogue of almost-right implementations.

INSTRUCTOR ONLY. This package is never shipped in the student package (student_dist.py
ships an allow-list that leaves it out): many of these functions are a correct
implementation with one thing switched, so with the switch left at its default they
compute an exercise's answer (`_step(inputs)` was an LSTM step).

One module per chapter module of autograder.exercises, with the same name, holding

    MISTAKES = {exercise name: {hint: fn(ref, inputs) -> outputs by name}}

`ref.call(name, *args)` runs a reference function; `inputs` is the case's inputs by
argument name. The grader evaluates them live on its hidden cases (`book(ex)`);
`python -m autograder release` evaluates them on the public cases and stores their
outputs with the hints in autograder/fixtures/*.npz, which is all the notebook
self-check ever sees of them.
"""
from __future__ import annotations

import importlib
from typing import Callable

from autograder.exercise import Exercise
from autograder.exercises import CHAPTERS, chapter_of


def module_for(chapter):
    """The mistakes module of a chapter module (autograder.exercises.gates -> .mistakes.gates)."""
    return importlib.import_module(f"{__name__}.{chapter.__name__.rsplit('.', 1)[-1]}")


def book(ex: Exercise) -> dict[str, Callable]:
    """{hint: fn(ref, inputs)} for an exercise, in a fixed order (the fixtures number them)."""
    chapter = chapter_of(ex)
    if chapter is None:
        return {}
    return dict(module_for(chapter).MISTAKES.get(ex.name, {}))


def unknown_names() -> list[str]:
    """Keys of a MISTAKES dict that name no exercise of its chapter (a typo loses hints)."""
    bad = []
    for chapter in CHAPTERS:
        names = {ex.name for ex in chapter.EXERCISES}
        bad += [f"{chapter.__name__}: {k}" for k in module_for(chapter).MISTAKES if k not in names]
    return bad
