"""``python -m edi837``: the ``edi837`` command line (edi837.cli)."""

from .cli import main

if __name__ == "__main__":  # pragma: no branch
    main()
