"""Every chapter's exercises, in book order. A chapter module gives NOTEBOOK (its file
name in solutions/ and chapters/), TITLE and EXERCISES (in the notebook's order)."""
from __future__ import annotations

from types import ModuleType

from autograder.exercise import Exercise
from autograder.exercises import rnn_review

CHAPTERS: tuple[ModuleType, ...] = (rnn_review,)


def chapter_named(notebook: str) -> ModuleType | None:
    """The chapter whose notebook is `notebook` (a file name such as 01_rnn_review.ipynb)."""
    return next((c for c in CHAPTERS if c.NOTEBOOK == notebook), None)


def find(name: str) -> tuple[ModuleType, Exercise] | None:
    """The chapter and exercise of the function called `name`, or None."""
    for chapter in CHAPTERS:
        for ex in chapter.EXERCISES:
            if ex.name == name:
                return chapter, ex
    return None


def all_names() -> list[str]:
    return [ex.name for c in CHAPTERS for ex in c.EXERCISES]
