"""The agent subclasses the worker runs: the receptionist and the recording-consent agent.

This module needs the livekit-agents extra; agent/worker.py imports it on first use only, so
that the rest of `agent/` imports without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from livekit.agents import Agent, StopResponse, get_job_context

from agent.clinic_config import ClinicConfig
from agent.consent import (
    CONSENT_ANSWER_TIMEOUT_S,
    CONSENT_ATTRIBUTE,
    ConsentFlow,
    ConsentStep,
)
from agent.outcome import CallRecord

logger = logging.getLogger("switchboard.agent")


class Receptionist(Agent):
    def __init__(self, config: ClinicConfig) -> None:
        super().__init__(instructions=config.instructions)
        self._greeting = config.greeting

    async def on_enter(self) -> None:
        if self._greeting:
            self.session.say(self._greeting)
        else:
            self.session.generate_reply(instructions="Greet the caller and offer help.")


class ConsentAgent(Agent):
    """Asks for recording consent, listens, then hands the call to the receptionist."""

    def __init__(self, flow: ConsentFlow, then: Agent, record: CallRecord) -> None:
        super().__init__(
            instructions="You only ask whether the call may be recorded. Say nothing else."
        )
        self._flow = flow
        self._then = then
        self._record = record
        self._timer: asyncio.Task[None] | None = None

    async def on_enter(self) -> None:
        handle = self.session.say(self._flow.start(), allow_interruptions=False)
        self._arm_timer(handle)

    async def on_user_turn_completed(self, turn_ctx: Any, new_message: Any) -> None:
        if not self._flow.done:
            self._disarm_timer()
            await self._apply(self._flow.answer(new_message.text_content or ""))
        # The consent answer is not a question for the LLM.
        raise StopResponse()

    def _arm_timer(self, handle: Any) -> None:
        async def wait() -> None:
            await handle.wait_for_playout()
            await asyncio.sleep(CONSENT_ANSWER_TIMEOUT_S)
            if not self._flow.done:
                await self._apply(self._flow.no_answer())

        self._timer = asyncio.create_task(wait())

    def _disarm_timer(self) -> None:
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
        self._timer = None

    async def _apply(self, step: ConsentStep) -> None:
        handle = self.session.say(step.say, allow_interruptions=False)
        if step.decision is None:
            self._arm_timer(handle)
            return
        logger.info("recording consent: %s", step.decision.value)
        self._record.decide(step.decision)
        with contextlib.suppress(Exception):  # an attribute is not worth dropping a call
            room = get_job_context().room
            await room.local_participant.set_attributes({CONSENT_ATTRIBUTE: step.decision.value})
        await handle.wait_for_playout()
        self.session.update_agent(self._then)
