"""`python -m textbooks ...` (and `torchrun -m textbooks train ...`)."""

from textbooks.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
