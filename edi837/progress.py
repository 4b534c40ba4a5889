"""Progress of a long run on standard error (``validate``, ``lines``, ``gate``).

A bar counts the bytes of the input files (so a single large file moves too):
the position of each claim read (its CLM segment's byte offset) as the run
goes, and the whole file when it is done.  It is shown only when standard
error is a terminal and ``--quiet`` is not given; it never writes to standard
output, so a JSON report or table there is never touched.  The bar is tqdm's
(a maintained library), drawn at most a few times a second; the run tells it
where it is every :attr:`Progress.EVERY` claims, not at every segment, so its
cost is negligible.
"""

from __future__ import annotations

import os
import sys
from typing import IO, TYPE_CHECKING, Any, Callable, Iterable, Iterator

from .events import ClaimRead
from .model.build import ClaimLoopRead
from .findings import printable

if TYPE_CHECKING:
    from .model.claims import Claim


def wanted(quiet: bool) -> bool:
    """Whether to show progress: standard error is a terminal and not ``--quiet``."""
    if quiet:
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _size(path: str) -> int:
    try:
        return os.path.getsize(path) if os.path.isfile(path) else 0
    except OSError:
        return 0


class Progress:
    """A byte-count bar over ``paths``; ``passes``: how many times each file is
    read (the gate reads a file twice: validation, then the split).

    Feed it with :meth:`claim` (an engine claim listener), :meth:`events` (a
    model event stream) and :meth:`file_done`; :meth:`close` at the end."""

    EVERY = 64  # claims between two updates

    def __init__(self, paths: Iterable[str], desc: str, passes: int = 1):
        from tqdm import tqdm

        self.sizes = {p: _size(p) for p in paths}
        self.passes = passes
        total = sum(self.sizes.values()) * passes
        self.bar = tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                        file=sys.stderr, leave=False, dynamic_ncols=True, mininterval=0.25)
        self.done = 0  # bytes of the files done
        self.at: dict[str, int] = {}  # bytes read of the files under way
        self._n = 0

    @classmethod
    def maybe(cls, paths: Iterable[str], desc: str, quiet: bool, passes: int = 1) -> "Progress | None":
        """A bar when :func:`wanted`, else None (nothing to feed: no cost)."""
        return cls(paths, desc, passes) if wanted(quiet) else None

    def position(self, file: str | None, offset: int, pass_no: int = 0) -> None:
        """``file`` is read up to byte ``offset`` in its pass ``pass_no`` (0-based)."""
        if file is None:
            return
        self.at[file] = pass_no * self.sizes.get(file, 0) + offset
        self._show()

    def claim(self, claim: Claim, pass_no: int = 0) -> None:
        """A claim was read (an engine claim listener); every :attr:`EVERY` claims, the bar moves."""
        self._n += 1
        if self._n % self.EVERY == 0:
            self.position(claim.file, claim.clm.offset, pass_no)

    # (it only moves the bar: a split by patient may give it this process's claims alone,
    # edi837/parallel.py)
    claim.progress_only = True  # type: ignore[attr-defined]

    def events(self, events: Iterable[Any], pass_no: int = 0) -> Iterator[Any]:
        """``events`` (a model stream) passed on, the bar moving with its claims."""
        for ev in events:
            if isinstance(ev, ClaimRead):
                self.claim(ev.claim, pass_no)
            elif isinstance(ev, ClaimLoopRead):  # (edi837 lines: the claim view is not built)
                self._n += 1
                if self._n % self.EVERY == 0 and ev.loop.segments:
                    self.position(ev.file, ev.loop.segments[0].offset, pass_no)
            yield ev

    def listener(self, pass_no: int) -> Callable[[Any], None]:
        """A model-event listener moving the bar in pass ``pass_no`` (the gate's split)."""
        def listen(ev: Any) -> None:
            if isinstance(ev, ClaimRead):
                self.claim(ev.claim, pass_no)
        return listen

    def file_done(self, file: str) -> None:
        self.at.pop(file, None)
        self.done += self.sizes.get(file, 0) * self.passes
        self._show()

    def _show(self) -> None:
        bar = self.bar
        n = min(self.done + sum(self.at.values()), bar.total or 0)
        if n > bar.n:
            bar.update(n - bar.n)

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TerminalOut:
    """A text stream to the terminal that clears the bar before each write
    (the report or table goes to standard output, the bar to standard error:
    on one terminal they would run into each other)."""

    def __init__(self, out: IO[str]):
        self.out = out

    def write(self, s: str) -> int:
        from tqdm import tqdm

        with tqdm.external_write_mode(file=self.out):
            return self.out.write(s)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.out, name)


def echo(message: str) -> None:
    """``click.echo(message)`` to standard output, clearing a bar first (both may be one terminal);
    control characters in ``message`` (a file name) are escaped: one message, one line."""
    import click

    message = printable(message)

    tqdm = sys.modules.get("tqdm")
    if tqdm is not None and getattr(tqdm.tqdm, "_instances", None):
        with tqdm.tqdm.external_write_mode(file=sys.stdout):
            click.echo(message)
    else:
        click.echo(message)


def quiet_option(f: Any) -> Any:
    """The ``--quiet`` option of a command."""
    import click

    return click.option("-q", "--quiet", is_flag=True,
                        help="No progress bar, and only errors on standard error.")(f)
