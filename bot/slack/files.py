"""Download private Slack files with the bot token, only from allowlisted hosts."""

from __future__ import annotations

import ipaddress
import logging
from urllib.parse import urljoin, urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import FileRefused
from bot.models import SlackFile

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
_HTML_PAGE = (
    "Slack sent a sign-in page instead of the file. The app is missing the `files:read` "
    "scope or was not reinstalled after it was added: ask an admin to add `files:read` and "
    "reinstall the app."
)


class SlackFileFetcher:
    """Fetches the bytes of files shared in Slack, never sending the token elsewhere."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        slack: AsyncWebClient,
        *,
        token: str,
        allowed_hosts: tuple[str, ...],
        max_bytes: int,
        timeout_seconds: float,
    ) -> None:
        self.session = session
        self.slack = slack
        self._token = token
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self.max_bytes = max_bytes
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds, sock_read=30)

    async def resolve(self, file: SlackFile) -> SlackFile:
        """The full file entry; Slack Connect shares list only an id until files.info."""
        if file.download_url and file.file_access != "check_file_info":
            return file
        try:
            response = await self.slack.files_info(file=file.id)
        except SlackApiError as exc:
            error = exc.response.get("error", "unknown_error")
            logger.warning("files.info failed for %s: %s", file.id, error)
            raise FileRefused(
                file.display_name, f"Slack would not let me open it (`{error}`)."
            ) from None
        return SlackFile.model_validate(response["file"])

    async def fetch(self, file: SlackFile) -> bytes:
        """The file's bytes, refusing oversize files, foreign hosts and sign-in pages."""
        file = await self.resolve(file)
        url = file.download_url
        if not url:
            raise FileRefused(file.display_name, "Slack gave me no way to download it.")
        try:
            return await self._get(file.display_name, url)
        except TimeoutError:
            raise FileRefused(file.display_name, "the download from Slack timed out.") from None
        except aiohttp.ClientError as exc:
            # Not %r: aiohttp's repr of a response error includes the request's headers,
            # so the bot token.
            logger.warning("download of %s failed: %s: %s", file.id, type(exc).__name__, exc)
            raise FileRefused(file.display_name, "the download from Slack failed.") from None

    async def _get(self, name: str, url: str) -> bytes:
        for _ in range(MAX_REDIRECTS + 1):
            self._check_host(name, url)
            headers = {"Authorization": f"Bearer {self._token}"}
            # Redirects are followed here, one hop at a time, so each host is checked
            # before it is given the token.
            async with self.session.get(
                url, headers=headers, allow_redirects=False, timeout=self.timeout
            ) as response:
                if response.status in (301, 302, 303, 307, 308):
                    url = urljoin(url, response.headers.get("Location", ""))
                    continue
                if response.status != 200:
                    raise FileRefused(name, f"Slack answered the download with {response.status}.")
                if response.content_type == "text/html":
                    raise FileRefused(name, _HTML_PAGE)
                return await self._read_capped(name, response)
        raise FileRefused(name, "the download was redirected too many times.")

    def _check_host(self, name: str, url: str) -> None:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        # Plain http is allowed only to loopback, which local fakes and tests use.
        scheme_ok = parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(host))
        if host not in self.allowed_hosts or not scheme_ok:
            logger.warning("refused to send the bot token to %s://%s", parts.scheme, host)
            raise FileRefused(
                name,
                f"its link points to `{host or url}`, which is not a Slack file host I trust "
                "(SLACK_FILE_HOSTS).",
            )

    async def _read_capped(self, name: str, response: aiohttp.ClientResponse) -> bytes:
        too_big = FileRefused(
            name,
            f"it is larger than the {self.max_bytes // (1024 * 1024)} MB I accept. "
            "A smaller export or a screenshot of the relevant part would work.",
        )
        if (response.content_length or 0) > self.max_bytes:
            raise too_big
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(256 * 1024):
            size += len(chunk)
            if size > self.max_bytes:
                raise too_big  # stop reading: the rest of the body is never pulled in
            chunks.append(chunk)
        return b"".join(chunks)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
