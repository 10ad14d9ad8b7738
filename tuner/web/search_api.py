"""Search and thumbnails.

===================================  =====  ============================================
route                                ok     does
===================================  =====  ============================================
``GET /api/search?q=WORDS&limit=N``  200    up to N (1 to 20, default 8) results for
                                            the words (cookie required)
``GET /api/thumbnail/<token>``       200    a thumbnail the daemon named (a search
                                            result's, the playing source's)
===================================  =====  ============================================

Search errors: 400 missing, empty or too long words, control characters, a leading
``-``, or a bad ``limit``; 502 the search failed (yt-dlp, the site, or the egress
proxy refused something: the detail says which); 503 the resolver is not running;
504 the site did not answer within the resolve timeout.

Thumbnails need no cookie: the token is the capability (an HMAC, issued only in
answers to a logged-in client), and a browser may fetch a media session's artwork
without the page's cookies. 404 a token the daemon never issued; 502 the image could
not be fetched.
"""

from __future__ import annotations

import logging

from quart import Response, jsonify, request
from quart_trio import QuartTrio

from tuner.core.query import QueryError, QueryKind
from tuner.core.search import DEFAULT_LIMIT, MAX_LIMIT, SearchResult, named_result, parse_search
from tuner.play.resolver import ResolverUnavailableError, SearchError
from tuner.thumbnail_fetcher import ThumbnailError, UnknownThumbnailError
from tuner.web.auth import login_required
from tuner.web.bodies import BadRequestError
from tuner.web.context import WebContext
from tuner.web.errors import error_response

log = logging.getLogger(__name__)

#: How long a browser may keep a thumbnail (its token names one URL for good).
THUMBNAIL_MAX_AGE = 86400


def register(app: QuartTrio, ctx: WebContext) -> None:
    """Add the search and thumbnail routes to ``app``."""
    logged_in = login_required(ctx)

    @app.get("/api/search")
    @logged_in
    async def search() -> Response:
        words = request.args.get("q")
        if words is None:
            raise BadRequestError("'q' is required: the words to search for")
        limit = _limit(request.args.get("limit"))
        try:
            query = parse_search(words)
        except QueryError as exc:
            raise BadRequestError(str(exc)) from None
        if query.kind is not QueryKind.SEARCH:
            results: tuple[SearchResult, ...] = (named_result(query),)
        else:
            resolver = ctx.supervisor.resolver
            if resolver is None:
                return error_response(503, "not available", "search needs the resolver")
            try:
                results = await resolver.search(query.text, limit)
            except ResolverUnavailableError as exc:
                return error_response(503, "not available", str(exc))
            except SearchError as exc:
                if exc.timed_out:
                    return error_response(504, "search timed out", exc.message)
                return error_response(502, "search failed", exc.message)
        return jsonify({"query": words, "results": [_shown(ctx, r) for r in results]})

    @app.get("/api/thumbnail/<token>")
    async def thumbnail(token: str) -> Response:
        try:
            image = await ctx.thumbnails.get(token)
        except UnknownThumbnailError:
            return error_response(
                404, "not found", "no such thumbnail: take thumbnail paths from tuner's answers"
            )
        except ThumbnailError as exc:
            return error_response(502, "thumbnail unavailable", str(exc))
        response = Response(image.data, content_type=image.content_type)
        response.headers["Cache-Control"] = f"private, max-age={THUMBNAIL_MAX_AGE}"
        return response


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise BadRequestError(f"'limit' must be a whole number from 1 to {MAX_LIMIT}")
    return int(text)


def _shown(ctx: WebContext, result: SearchResult) -> dict[str, object]:
    """A result as the API shows it: the thumbnail as a same-origin path."""
    return {
        "id": result.id,
        "title": result.title,
        "channel": result.channel,
        "duration": result.duration,
        "is_live": result.is_live,
        "url": result.url,
        "thumbnail": ctx.thumbnails.tokens.path(result.thumbnail),
    }
