"""The instructor-only mistake catalogue (autograder/mistakes/): one module per chapter,
keyed by the chapter's exercise names, and stored in the fixtures with its hints in order."""
from __future__ import annotations

from autograder import fixtures, mistakes
from autograder.exercises import CHAPTERS


def test_every_chapter_has_a_catalogue_whose_keys_name_its_exercises():
    for chapter in CHAPTERS:
        assert hasattr(mistakes.module_for(chapter), "MISTAKES"), chapter.__name__
    assert mistakes.unknown_names() == []


def test_the_fixtures_carry_each_exercises_hints_in_the_catalogues_order():
    counted = 0
    for chapter in CHAPTERS:
        for ex in chapter.EXERCISES:
            if ex.checks_fn is not None:
                continue
            public = fixtures.Public(chapter, ex)
            assert public.hints == list(mistakes.book(ex)), ex.name
            counted += len(public.hints)
            for inputs in (i for _, i in public.cases):
                stored = public.mistakes(ex, inputs)
                assert list(stored) == public.hints
                assert all(stored[h] for h in public.hints), ex.name   # outputs stored for each
    assert counted > 100


def test_the_exercise_specs_carry_no_mistakes():
    for chapter in CHAPTERS:
        for ex in chapter.EXERCISES:
            assert not hasattr(ex, "mistakes"), ex.name
