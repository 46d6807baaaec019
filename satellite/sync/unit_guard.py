"""What a unit of work read last, and the server's surprises turned into a reported error.

A stream reads JSON it expects to have a shape: a list of objects with ids. When a server (or a
proxy in front of it) answers something else, a stream meets ``KeyError``/``TypeError``/... deep in
its code. That is bad data from the server, not a crash of the satellite: ``guarded`` turns it into
an ``AdoResponseError`` for that unit alone, naming the collection and the route whose answer the
stream was handling, so the unit is reported and the others go on.

    tracker = RouteTracker(client)          # what the stream uses as its client
    items = list(guarded(lambda: stream.list(ctx, parent), tracker, stream.name))
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Iterable, Iterator, TypeVar

from satellite.errors import AdoResponseError

__all__ = ["SHAPE_ERRORS", "RouteTracker", "guarded", "with_route"]

SHAPE_ERRORS = (KeyError, TypeError, AttributeError, ValueError, IndexError, RecursionError)

T = TypeVar("T")


class RouteTracker:
    """An ``AdoClient`` as one unit sees it: ``route`` is the path whose answer the unit handles now."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.route = ""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get(self, path: str, *args: Any, **kwargs: Any) -> Any:
        self.route = path
        return self._client.get(path, *args, **kwargs)

    def post(self, path: str, *args: Any, **kwargs: Any) -> Any:
        self.route = path
        return self._client.post(path, *args, **kwargs)

    def get_list(self, path: str, *args: Any, **kwargs: Any) -> list[dict]:
        self.route = path
        return self._client.get_list(path, *args, **kwargs)

    def pages(self, path: str, *args: Any, **kwargs: Any) -> Iterator[Any]:
        self.route = path
        return self._pages(path, self._client.pages(path, *args, **kwargs))

    def pages_by_token(self, path: str, *args: Any, **kwargs: Any) -> Iterator[list[dict]]:
        self.route = path
        return self._pages(path, self._client.pages_by_token(path, *args, **kwargs))

    def pages_by_offset(self, path: str, *args: Any, **kwargs: Any) -> Iterator[list[dict]]:
        self.route = path
        return self._pages(path, self._client.pages_by_offset(path, *args, **kwargs))

    def _pages(self, path: str, pages: Iterable[T]) -> Iterator[T]:
        for page in pages:
            self.route = path
            yield page

    def get_many(self, paths: Iterable[str], *args: Any, **kwargs: Any) -> Iterator[Any]:
        asked: deque[str] = deque()

        def remember() -> Iterator[str]:
            for path in paths:
                asked.append(path)
                yield path

        results = self._client.get_many(remember(), *args, **kwargs)
        while True:
            try:
                body = next(results)
            except StopIteration:
                return
            except BaseException:
                if asked:
                    self.route = asked[0]
                raise
            if asked:
                self.route = asked.popleft()
            yield body

    def shape_error(self, exc: BaseException, stream: str) -> AdoResponseError:
        collection = self._client.target.url
        where = f"the answer from {self.route}" if self.route else "what the parent stream listed"
        detail = str(exc)[:200]
        return AdoResponseError(
            f"{collection}: unexpected JSON in {where} while reading {stream} ({type(exc).__name__}"
            f"{': ' + detail if detail else ''}): the server (or a proxy in front of it) answered with a shape"
            " this Azure DevOps Server version does not send",
            collection=collection,
        )


def guarded(produce: Callable[[], Iterable[T]], tracker: RouteTracker, stream: str) -> Iterator[T]:
    """The items of ``produce()``; a shape error raised while producing them becomes an ``AdoResponseError``."""
    try:
        iterator = iter(produce())
    except SHAPE_ERRORS as exc:
        raise tracker.shape_error(exc, stream) from exc
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        except SHAPE_ERRORS as exc:
            raise tracker.shape_error(exc, stream) from exc
        yield item


def with_route(message: str, tracker: RouteTracker) -> str:
    """``message``, naming the route the unit was reading when the message does not already."""
    route = tracker.route.split("?", 1)[0]
    return message if not route or route in message else f"{message} (reading {route})"
