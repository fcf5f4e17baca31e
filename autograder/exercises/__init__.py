"""Every chapter's exercises, in book order. A chapter module gives NOTEBOOK (its file
name in solutions/ and chapters/), TITLE and EXERCISES (in the notebook's order)."""
from __future__ import annotations

from types import ModuleType

from autograder.exercise import Exercise
from autograder.exercises import (backprop, capstone, gates, gru, language_model, lstm_interface,
                                  rnn_review)

CHAPTERS: tuple[ModuleType, ...] = (rnn_review, lstm_interface, gates, gru, backprop, capstone,
                                    language_model)


def chapter_named(notebook: str) -> ModuleType | None:
    """The chapter whose notebook is `notebook` (a file name such as 01_rnn_review.ipynb)."""
    return next((c for c in CHAPTERS if c.NOTEBOOK == notebook), None)


def chapter_of(ex: Exercise) -> ModuleType | None:
    """The chapter whose EXERCISES hold `ex` (a backward's forward may be an earlier
    chapter's exercise, carried into the backward's notebook)."""
    return next((c for c in CHAPTERS if any(e is ex for e in c.EXERCISES)), None)


def find(name: str, namespace: dict | None = None) -> tuple[ModuleType, Exercise] | None:
    """The chapter and exercise called `name`, or None. When two chapters have an exercise
    of that name (LSTMCell grows from chapter 2 to 3), the chapter with the most of its
    exercises defined in `namespace` (the notebook's) wins."""
    hits = [(c, ex) for c in CHAPTERS for ex in c.EXERCISES if ex.name == name]
    if len(hits) > 1 and namespace is not None:
        return max(hits, key=lambda h: sum(e.name in namespace for e in h[0].EXERCISES))
    return hits[0] if hits else None


def all_names() -> list[str]:
    return [ex.name for c in CHAPTERS for ex in c.EXERCISES]
