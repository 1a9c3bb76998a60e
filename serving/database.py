"""The API's MongoDB: an async client made lazily and never fatal, so the API starts, serves
forecasts from the data it is sent, and says `"database": "disconnected"` while Mongo is away."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from core.errors import Unavailable, mongo_unavailable
from core.masking import mask_url
from core.mongo import connect_async, database_url
from core.settings import Settings


class Database:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.client: AsyncMongoClient | None = None
        self.url: str | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    async def connect(self) -> AsyncMongoClient:
        loop = asyncio.get_running_loop()
        if self.client is not None and self.loop is loop:
            return self.client
        async with self._locks.setdefault(loop, asyncio.Lock()):
            if self.client is None or self.loop is not loop:
                try:
                    # Without MONGODB_URL this starts the embedded server: seconds, off the loop.
                    self.url = self.url or await asyncio.to_thread(database_url, self.settings)
                except RuntimeError as exc:
                    raise Unavailable(f"MongoDB is not available: {exc}") from None
                # An async client belongs to the event loop it was made on (one per server
                # process; test clients may run the app on several).
                self.client = connect_async(self.url, self.settings.mongodb_timeout_ms)
                self.loop = loop
        return self.client

    async def db(self) -> AsyncDatabase:
        return (await self.connect())[self.settings.mongodb_database]

    async def ping(self, timeout: float = 1.0) -> bool:
        try:
            client = await asyncio.wait_for(self.connect(), timeout=max(timeout, 5.0))
            await asyncio.wait_for(client.admin.command("ping"), timeout=timeout)
            return True
        except Exception:  # noqa: BLE001 - any failure means not connected
            return False

    def where(self) -> str:
        return mask_url(self.url) if self.url else "MongoDB"

    @contextmanager
    def answering(self) -> Iterator[None]:
        """Around Mongo calls: an outage becomes an Unavailable (503) that says so."""
        try:
            yield
        except PyMongoError as exc:
            raise mongo_unavailable(self.where(), exc, [self.settings.mongo_url]) from None

    async def close(self) -> None:
        if self.client is not None and self.loop is asyncio.get_running_loop():
            await self.client.close()
