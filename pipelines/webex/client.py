"""HTTP client for the Webex APIs under their documented rules (webex.md §1.4, §1.5, §5).

- Paging: the `Link` header's rel="next" URL is followed verbatim (a relative one is resolved
  against the page's URL); the header is parsed leniently (the spec's own example doubles the
  `<`; parameters may be quoted, hold commas, or name several relations). `max=5000` on the
  CDR endpoints.
- CDR requests take a slot from the shared `RequestBudget` first (initial vs page requests).
- 404 on a CDR endpoint = an empty window ("No CDRs for requested time range and filters"),
  unless its message says the resource does not exist: a wrong base URL must not pass for no
  data. A 404 to a next link ends the window when it says so ("No CDRs …": an empty page, §1.4;
  a cursor API may send a next link after a last page filled exactly to `max`); any other 404
  there is a failure, asked again with backoff, then an error, so that the rest of the window is
  not dropped.
- 429 = wait `Retry-After` (seconds or an HTTP date; a CDR endpoint's 429 makes every other
  run's CDR requests wait too, another API's only its own request). 451 = wrong region: switch
  to the base URL the body names and repeat. 5xx, 423, timeouts, broken connections and
  truncated/unparseable bodies are retried with exponential backoff; a 504 to a window's
  initial CDR request asks again for half as many records (§5: the gateway timed out on a heavy
  page; next links are followed verbatim, so only the initial request's `max` is ours to
  change). 401 = refresh the access token once, then
  repeat; a second 401 stops with a message. A 400 to a window's initial CDR request is
  `WindowRefused` (the API judged the window by its own clock: see `server_clock`).
- Tokens are sent only in the Authorization header and never logged, and only to the host of
  the request that gave a next link: a link to another host stops the paging with an error.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
import orjson

from pipelines.http_retry import retry_after_seconds
from pipelines.webex.oauth import TokenManager
from pipelines.webex.request_budget import INITIAL, PAGE, RequestBudget
from pipelines.webex.windows import Window

log = logging.getLogger(__name__)

CDR_PAGE_SIZE = 5000
MIN_CDR_PAGE_SIZE = 500  # the smallest `max` the CDR endpoints serve
MAX_REQUESTS_PER_LINK = 5  # one paging loop's requests of one URL before it counts as a loop
# one link of a Link header: <url> (or the spec's <<url>) and its parameters, up to the next link
_LINK = re.compile(r"<+\s*([^<>\s]+)\s*>+([^<]*)")
_REL = re.compile(r";\s*rel\s*=\s*(?:\"([^\"]*)\"|([^\s;,]+))", re.IGNORECASE)
_URL = re.compile(r"https?://[^\s\"'<>,;)]+")
# the CDR hosts (webex.md §1.1: practitioners take the 451's host with this pattern)
_ANALYTICS_HOST = re.compile(r"analytics-calling[\w-]*\.webexapis\.com(?::\d+)?$", re.IGNORECASE)
# a regional host named without its scheme ("use analytics-calling-eu.webexapis.com")
_BARE_HOST = re.compile(r"(?<![\w./-])([\w-]+\.webexapis\.com(?::\d+)?(?:/[^\s\"'<>,;)]*)?)", re.IGNORECASE)
# a host of Webex's APIs, which a 451 may send requests (and their bearer token) to over https
# (ASCII only: under IGNORECASE alone, `i` matches the dotless `ı` of `webexapıs.com`, which httpx
# sends to the punycode domain xn--webexaps-zkb.com; independent security re-audit)
_WEBEX_HOST = re.compile(r"(?:[a-z0-9-]+\.)*webexapis\.com$", re.IGNORECASE | re.ASCII)


# A 404 that names a missing resource (Webex's answer to a path it does not serve), as opposed to
# the CDR endpoints' "No CDRs for requested time range and filters"
_NOT_FOUND = re.compile(r"could not be found|not found|no such|unknown (?:path|resource|endpoint)", re.IGNORECASE)
_NO_CDRS = re.compile(r"\bno (?:cdrs?|records|data)\b", re.IGNORECASE)


class WebexApiError(RuntimeError):
    """The API refused a request in a way retrying cannot fix; the message says why."""


class WindowRefused(WebexApiError):
    """HTTP 400 to a CDR window's initial request: the window breaks a rule as the API judges it,
    by its own clock (too recent, too old). Asking again unchanged cannot help; a window moved
    to fit the API's clock can."""


def next_link(headers: httpx.Headers | dict, base_url: str = "") -> str | None:
    """The rel="next" URL of a response's Link header(s), resolved against `base_url`, or None."""
    values = headers.get_list("link") if isinstance(headers, httpx.Headers) else [
        v for k, v in headers.items() if k.lower() == "link"]
    for value in values:
        for link in _LINK.finditer(value):
            for rel in _REL.finditer(link.group(2)):
                if "next" in (rel.group(1) or rel.group(2) or "").lower().split():
                    return urljoin(base_url, link.group(1))
    return None


def followed_next_link(headers: httpx.Headers | dict, page_url: str) -> str | None:
    """next_link of a page, which must stay on the page's own scheme and host: the request carries
    the bearer token, which no other host may receive (a 451 names a new regional host for
    whole requests, not a next link)."""
    url = next_link(headers, page_url)
    if url is not None and urlsplit(url)[:2] != urlsplit(page_url)[:2]:
        raise WebexApiError(f"a next link leads to another host ({_redact(url)} from {_redact(page_url)}): "
                            "not followed, the request would send it the access token")
    return url


def may_receive_the_token(url: str, current_base: str) -> bool:
    """Whether a 451 may move requests to `url`: the next request carries the bearer token, so
    only to a Webex API host over https, or to the scheme and host in use (a configured proxy or
    the sandbox, whose regions are paths on one host). A 451 is answered by whatever sits at the
    configured URL: an intercepting proxy or an error page echoing input could name any host."""
    parts, current = urlsplit(url), urlsplit(current_base)
    if (parts.scheme.lower(), parts.netloc.lower()) == (current.scheme.lower(), current.netloc.lower()):
        return True
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:  # not a number
        return False
    return (parts.scheme.lower() == "https" and "@" not in parts.netloc and port in (None, 443)
            and host.isascii() and bool(_WEBEX_HOST.match(host)))


def region_base_url(message: str, current_base: str) -> str | None:
    """The base URL a 451 body names, among the hosts that may receive the token
    (`may_receive_the_token`). A message can name other URLs too (a documentation link): an
    analytics-calling host wins, then a URL of an API path (/v1, /cdr_feed, /cdr_stream), then
    the first one. A bare host keeps the current base's path (`/v1`); a host without a scheme is
    https."""
    message = message or ""
    named = [m.group(0) for m in _URL.finditer(message)]
    named += ["https://" + m.group(1) for m in _BARE_HOST.finditer(message)]
    named = [url for url in named if may_receive_the_token(url.rstrip("./"), current_base)]  # a sentence's end
    if not named:
        return None
    current = urlsplit(current_base)

    def base_of(url: str) -> tuple[str, bool]:
        parts = urlsplit(url.rstrip("./"))
        path = parts.path.rstrip("/")
        api_path = path.endswith(("/v1", "/cdr_feed", "/cdr_stream"))
        for endpoint in ("/cdr_feed", "/cdr_stream"):
            path = path.removesuffix(endpoint)
        return urlunsplit((parts.scheme, parts.netloc, path or current.path.rstrip("/"), "", "")), api_path

    def rank(url: str) -> int:
        base, api_path = base_of(url)
        return 0 if _ANALYTICS_HOST.match(urlsplit(base).netloc) else 1 if api_path else 2

    return base_of(min(named, key=rank))[0]


@dataclass
class Page:
    url: str
    number: int  # 1 = the window's initial request
    items: list  # decoded `items` ([] for an empty window, or when a `decode` read the body)
    parsed: object = None  # what `decode` made of the body, when one was given


@dataclass
class ClientStats:
    requests: int = 0
    pages: int = 0
    empty_windows: int = 0
    empty_last_pages: int = 0  # a next link after the window's last record, answered 404 "No CDRs"
    retries: int = 0
    rate_limited: int = 0
    token_refreshes_after_401: int = 0
    region_switches: int = 0
    repeated_pages: int = 0
    budget_wait_seconds: float = 0.0  # held back by the shared request budget (a backfill mostly waits)
    statuses: Counter = field(default_factory=Counter)

    def as_metadata(self) -> dict[str, object]:
        return {
            "requests": self.requests, "pages": self.pages, "empty_windows": self.empty_windows,
            "retries": self.retries, "rate_limited_429": self.rate_limited,
            "token_refreshes_after_401": self.token_refreshes_after_401, "region_switches": self.region_switches,
            "repeated_pages": self.repeated_pages, "empty_last_pages": self.empty_last_pages,
            "budget_wait_seconds": round(self.budget_wait_seconds, 1),
        }


class WebexClient:
    def __init__(
        self,
        *,
        api_base_url: str,
        analytics_base_url: str,
        tokens: TokenManager,
        budget: RequestBudget | None,
        http: httpx.Client,
        max_attempts: int = 8,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 60.0,
        max_retry_after_seconds: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.api_base_url = api_base_url.rstrip("/")
        self.analytics_base_url = analytics_base_url.rstrip("/")
        self.tokens = tokens
        self.budget = budget
        self.http = http
        self.max_attempts = max_attempts
        self.backoff = backoff_seconds
        self.max_backoff = max_backoff_seconds
        self.max_retry_after = max_retry_after_seconds
        self.sleep = sleep
        self.stats = ClientStats()
        # the CDR API's clock by the `Date` of its latest answer: (its time then, in epoch
        # seconds; time.monotonic() then), None before one. It judges the window rules by it.
        self.server_clock: tuple[float, float] | None = None

    # -- CDRs ------------------------------------------------------------------------------

    def cdr_pages(self, window: Window, *, max_records: int = CDR_PAGE_SIZE,
                  decode: Callable[[bytes], object | None] | None = None) -> Iterator[Page]:
        """Every page of one CDR window, in order. Pages may repeat records (a repeated page or an
        overlapping window): the load deduplicates on Report ID.

        `decode(body)` reads a page body in place of the default JSON decode (`Page.parsed`); it
        returns None for a body it cannot read, which is then requested again like a truncated one."""
        url: str | None = f"{self.analytics_base_url}/{window.endpoint}"
        params: dict | None = {**window.params(), "max": str(max_records)}
        visits: Counter = Counter()
        number = 0
        while url:
            number += 1
            self._count_visit(visits, url, window.endpoint)
            kind = INITIAL if number == 1 else PAGE
            response, url_used = self._get(url, params, budget_kind=kind, cdr=True, decode=decode,
                                           empty_window=number == 1)
            if response is None:  # 404: no CDRs in this window, or none after its last page
                if number == 1:
                    self.stats.empty_windows += 1
                else:
                    self.stats.empty_last_pages += 1
                return
            self.stats.pages += 1
            if decode is None:
                yield Page(url_used, number, _items(response))
            else:
                yield Page(url_used, number, [], parsed=response._parsed)
            url, params = followed_next_link(response.headers, url_used), None

    def cdr_page_again(self, page: Page, decode: Callable[[bytes], object | None]) -> Page:
        """`page` requested once more because its body, accepted by a cheaper check in the request
        loop, could not be read after all (like a truncated body, it counts as a retry)."""
        self.stats.retries += 1
        log.info("Webex CDR page %d could not be read (cut short); requesting it again", page.number)
        # a window's first page is an initial request again for the rate budget, as Webex counts it
        kind = INITIAL if page.number == 1 else PAGE
        response, url_used = self._get(page.url, None, budget_kind=kind, cdr=True, decode=decode)
        if response is None:
            raise WebexApiError(f"{_redact(page.url)}: answered 404 when requested again")
        return Page(url_used, page.number, [], parsed=response._parsed)

    # -- people / locations ----------------------------------------------------------------

    def list_items(self, path: str, params: dict[str, str]) -> Iterator[Page]:
        """Pages of a Webex list endpoint (people, locations) under the API base URL."""
        url: str | None = f"{self.api_base_url}/{path}"
        query: dict | None = dict(params)
        visits: Counter = Counter()
        number = 0
        while url:
            number += 1
            self._count_visit(visits, url, path)
            response, used = self._get(url, query, budget_kind=None, cdr=False)
            if response is None:
                return
            self.stats.pages += 1
            yield Page(used, number, _items(response))
            url, query = followed_next_link(response.headers, used), None

    def _count_visit(self, visits: Counter, url: str, endpoint: str) -> None:
        """Counts one request of `url` in a paging loop. A next link back to a page already read is
        a repeated page (its records are deduplicated downstream); one that keeps coming back is a
        loop, and stops the loop."""
        visits[url] += 1
        if visits[url] > 1:
            self.stats.repeated_pages += 1
            if visits[url] > MAX_REQUESTS_PER_LINK:
                raise WebexApiError(f"{endpoint}: the next link keeps leading back to {_redact(url)}")

    # -- one request, with every rule ------------------------------------------------------

    def _get(self, url: str, params: dict | None, *, budget_kind: str | None, cdr: bool,
             decode: Callable[[bytes], object | None] | None = None, empty_window: bool = True):
        """(response, url) of a 200, or (None, url) of a CDR 404 (`empty_window`: else a 404 is a
        failure, asked again with backoff); raises WebexApiError."""
        failures = 0
        refreshed = False
        switches = 0
        rate_limited = 0
        while True:
            # the token first: a refresh goes over the network and may wait (a 429 or 5xx of the
            # token endpoint, another process holding the token file), and the request must leave
            # at the moment its budget slot was recorded, or the next slot comes too soon
            token = self.tokens.access_token()
            if budget_kind and self.budget is not None:
                self.stats.budget_wait_seconds += self.budget.acquire(budget_kind)
            self.stats.requests += 1
            try:
                response = self.http.get(url, params=params, headers={
                    "Authorization": f"Bearer {token}", "Accept": "application/json"})
                response.read()
                # httpx ties a response and its stream in a reference cycle (the elapsed timer),
                # which only the cyclic collector frees; with few Python objects allocated it runs
                # seldom, and a backfill's pages of megabytes piled up (10 GB for 1M records).
                # The body is read and the stream closed: cut the cycle.
                response.stream = httpx.ByteStream(b"")
            except httpx.UnsupportedProtocol as exc:  # a link to no HTTP URL: asking again cannot help
                raise WebexApiError(f"cannot request {_redact(url)}: {exc}") from None
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                failures = self._backoff(failures, url, type(exc).__name__)
                continue
            status = response.status_code
            self.stats.statuses[status] += 1
            if cdr:
                self._note_server_clock(response)
            if status == 200:
                if decode is not None:
                    response._parsed = decode(response.content)
                    if response._parsed is not None:
                        return response, str(response.url)
                elif _decodes(response):
                    return response, str(response.url)
                failures = self._backoff(failures, url, "truncated or unreadable body")
                continue
            if status == 404 and cdr:
                text = response.text[:1000]
                if _NOT_FOUND.search(text) and not _NO_CDRS.search(text):
                    raise WebexApiError(
                        f"Webex answered 404 to {_redact(url)}: {text[:300]!r} — no such endpoint; check "
                        "WEBEX_ANALYTICS_BASE_URL (e.g. https://analytics-calling.webexapis.com/v1)")
                if not empty_window and not _NO_CDRS.search(text):
                    # a next page the API does not say is empty: ending the window here could drop the rest
                    failures = self._backoff(failures, url, "404 to a next page of a window that had records")
                    continue
                return None, str(response.url)
            if status == 429:
                rate_limited += 1
                self.stats.rate_limited += 1
                if rate_limited > 100:
                    raise WebexApiError(f"{_redact(url)}: still rate limited after 100 waits")
                wait = min(retry_after_seconds(response, default=5.0), self.max_retry_after)
                log.info("Webex rate limit (429): waiting %.1f s as Retry-After asks", wait)
                if budget_kind is not None and self.budget is not None:
                    # the CDR endpoints' limit (§1.5) pauses every run's CDR requests; a 429 of
                    # another API (people, locations) is that API's own and only this request waits
                    self.budget.pause(wait)
                if budget_kind is None or self.budget is None:
                    self.sleep(wait)
                continue
            if status == 401:
                if refreshed:
                    # 401 is a token Webex does not accept at all (a missing scope or role is a 403)
                    raise WebexApiError(
                        f"Webex answered 401 to {_redact(url)} even with a freshly refreshed token: "
                        f"{_message(response) or 'no reason given'} — Webex refuses even a token its refresh has "
                        "just issued (the authorisation revoked, or the authorising admin deactivated or no longer "
                        "an admin): authorise again and set the new WEBEX_REFRESH_TOKEN"
                    )
                refreshed = True
                self.stats.token_refreshes_after_401 += 1
                log.info("Webex answered 401: refreshing the access token once and repeating the request")
                self.tokens.refresh(rejected=token)
                continue
            if status == 451:
                # the host is in `message`; some answers name it only in errors[].description or
                # a Location header
                texts = error_texts(response) + [response.headers.get("location", "")]
                message = _first_text(texts)
                current_base = self.analytics_base_url if cdr else self.api_base_url
                new_base = region_base_url(" ".join(texts), current_base)
                switches += 1
                if new_base is None or switches > 3:
                    raise WebexApiError(f"Webex answered 451 (wrong region) without a usable host: {message!r} "
                                        "(only a webexapis.com host over https, or the host in use, is taken: the "
                                        f"request carries the access token); set "
                                        f"{'WEBEX_ANALYTICS_BASE_URL' if cdr else 'WEBEX_API_BASE_URL'} to your "
                                        "organisation's regional host")
                old_base = self.analytics_base_url if cdr else self.api_base_url
                url = _rebase(url, old_base, new_base)
                if cdr:
                    self.analytics_base_url = new_base
                else:
                    self.api_base_url = new_base
                self.stats.region_switches += 1
                log.warning("Webex answered 451 (data in another region): using %s from now on; set "
                            "WEBEX_ANALYTICS_BASE_URL to it to skip this detour", new_base)
                continue
            if status == 504 and cdr and params and "max" in params:
                params = _smaller_pages(params)
            if status >= 500 or status in (408, 423):
                retry_after = retry_after_seconds(response, default=None)
                failures = self._backoff(failures, url, f"HTTP {status}",
                                         None if retry_after is None else min(retry_after, self.max_retry_after))
                continue
            if status == 400 and cdr and budget_kind == INITIAL:
                raise WindowRefused(f"Webex answered HTTP 400 to {_redact(url)}: {_message(response)}")
            if status == 403:
                raise WebexApiError(
                    f"Webex answered 403 to {_redact(url)}: {_message(response)} — the token lacks a scope or the "
                    "admin lacks the 'Webex Calling Detailed Call History API access' role"
                )
            raise WebexApiError(f"Webex answered HTTP {status} to {_redact(url)}: {_message(response)}")

    def _note_server_clock(self, response: httpx.Response) -> None:
        try:
            sent = parsedate_to_datetime(response.headers["date"])
        except (KeyError, TypeError, ValueError, IndexError):
            return
        if sent.tzinfo is None:
            return
        # `Date` counts whole seconds: the answer left within the second after it
        self.server_clock = (sent.timestamp() + 0.5, time.monotonic())

    def _backoff(self, failures: int, url: str, what: str, retry_after: float | None = None) -> int:
        failures += 1
        if failures >= self.max_attempts:
            raise WebexApiError(f"{_redact(url)}: gave up after {failures} attempts (last: {what})")
        self.stats.retries += 1
        delay = retry_after if retry_after is not None else min(
            self.backoff * 2 ** (failures - 1) * (1 + random.random() / 4), self.max_backoff)
        log.info("Webex request failed (%s); retry %d in %.2f s", what, failures, delay)
        self.sleep(delay)
        return failures


def _decodes(response: httpx.Response) -> bool:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return False
    # an answer without `items` is not an empty window (that is a 404): an error page served
    # with 200, read again like a truncated body rather than taken for "no records"
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return False
    response._decoded = body  # parsed once
    return True


def _items(response: httpx.Response) -> list:
    body = getattr(response, "_decoded", None)
    if body is None:
        body = orjson.loads(response.content)
    return body["items"]


def _message(response: httpx.Response) -> str:
    """What an error answer says: its `message`, else its first error description."""
    return _first_text(error_texts(response))[:500]


def _first_text(texts: list[str]) -> str:
    return next((text for text in texts if text), "")


def error_texts(response: httpx.Response) -> list[str]:
    """An error body's `message`, then each `errors[].description`."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return [response.text[:500]]
    if not isinstance(body, dict):
        return []
    errors = body.get("errors") if isinstance(body.get("errors"), list) else []
    return [str(body.get("message") or "")] + [
        str(e.get("description") or "") for e in errors if isinstance(e, dict)]


def _smaller_pages(params: dict) -> dict:
    try:
        size = int(params["max"])
    except ValueError:
        return params
    smaller = max(MIN_CDR_PAGE_SIZE, size // 2)
    if smaller < size:
        log.info("Webex answered 504 (gateway timeout): asking again with max=%d instead of %d", smaller, size)
    return {**params, "max": str(smaller)}


def _rebase(url: str, old_base: str, new_base: str) -> str:
    if url.startswith(old_base):
        return new_base + url[len(old_base):]
    parts, base = urlsplit(url), urlsplit(new_base)
    return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))


def _redact(url: str) -> str:
    """URLs carry no secrets, but keep logs short: drop the query string."""
    return url.split("?", 1)[0]
