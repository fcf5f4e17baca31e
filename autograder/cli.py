"""`python -m autograder COMMAND`: release | grade | fixtures."""
from __future__ import annotations

import sys

USAGE = """usage: python -m autograder COMMAND [options]

commands:
  release    generate chapters/*.ipynb and the self-check fixtures from solutions/
             (--check: change nothing, exit 1 if anything is out of date)
  grade      grade submitted notebooks: grade PATH... --out DIR
  fixtures   check the self-check fixtures (--write to regenerate them)
  gradescope build a Gradescope autograder zip: gradescope --chapter 01_rnn_review

`python -m autograder COMMAND --help` tells more."""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "release":
        from autograder.release import main_release
        return main_release(rest)
    if command == "grade":
        from autograder.grade import main_grade
        return main_grade(rest)
    if command == "gradescope":
        from autograder.gradescope import main_gradescope
        return main_gradescope(rest)
    if command == "fixtures":
        return main_fixtures(rest)
    print(f"unknown command {command!r}\n\n{USAGE}")
    return 2


def main_fixtures(argv: list[str]) -> int:
    import argparse
    parser = argparse.ArgumentParser(
        prog="python -m autograder fixtures",
        description="Check that autograder/fixtures/*.npz (the public cases of the notebooks' "
                    "self-check) match solutions/; exit 1 and list what is out of date.")
    parser.add_argument("--write", action="store_true", help="regenerate them instead of checking")
    args = parser.parse_args(argv)
    from autograder import make_fixtures as fixtures
    if args.write:
        for p in fixtures.write_all("."):
            print(f"wrote {p}")
        return 0
    problems = fixtures.check_all(".")
    print("\n".join(problems) or "fixtures: up to date")
    return 1 if problems else 0
