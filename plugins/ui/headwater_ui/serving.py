"""uvicorn's server, made to sleep while nobody asks it anything.

uvicorn wakes ten times a second to see whether it should stop and to refresh its Date
header: measured, 40 ms of CPU every 20 s of an idle ``headwater ui``. Here the server waits
on an event that its signal handler sets, and the Date header is written per response by
the app's middleware (``app._Guard``) instead: an idle UI uses no CPU at all.
"""

from __future__ import annotations

import asyncio
from types import FrameType
from typing import Optional

import uvicorn

__all__ = ["QuietServer"]


class QuietServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        config.date_header = False  # the middleware writes it
        super().__init__(config)
        self._stop: Optional[asyncio.Event] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await self.on_tick(0)  # the once-a-second work, once: the default headers
        if not self.should_exit:
            await self._stop.wait()

    def handle_exit(self, sig: int, frame: Optional[FrameType]) -> None:
        super().handle_exit(sig, frame)
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
