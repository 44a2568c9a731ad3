"""The agent subclasses the worker runs: the receptionist and the recording-consent agent.

This module needs the livekit-agents extra; agent/worker.py imports it on first use only, so
that the rest of `agent/` imports without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from livekit.agents import Agent, RunContext, StopResponse, function_tool, get_job_context

from agent.clinic_config import ClinicConfig
from agent.consent import (
    CONSENT_ANSWER_TIMEOUT_S,
    CONSENT_ATTRIBUTE,
    ConsentFlow,
    ConsentStep,
)
from agent.front_desk import script_for
from agent.messages import MessagePoster, Posted
from agent.outcome import CallRecord

logger = logging.getLogger("switchboard.agent")


class Receptionist(Agent):
    """The line's receptionist: its greeting when the clinic is open, the after-hours
    greeting and instructions when it is closed (agent.front_desk), and a take_message tool
    that posts to the platform once per message (agent.messages)."""

    def __init__(self, config: ClinicConfig, poster: MessagePoster | None = None) -> None:
        script = script_for(config)
        super().__init__(instructions=script.instructions)
        self._greeting = script.greeting
        self.closed = script.closed
        self._poster = poster
        self.messages_posted: list[Posted] = []

    async def on_enter(self) -> None:
        if self._greeting:
            self.session.say(self._greeting)
        else:
            self.session.generate_reply(instructions="Greet the caller and offer help.")

    @function_tool
    async def take_message(
        self,
        context: RunContext,
        caller_name: str,
        callback_number: str,
        reason: str,
        urgency: str = "normal",
    ) -> str:
        """Save a message for the clinic's team, once the caller has given it.

        Args:
            caller_name: The caller's name as they said it.
            callback_number: The number to call back, as confirmed with the caller.
            reason: What the call is about, in a sentence or two.
            urgency: "urgent" if the caller says it cannot wait, else "normal".
        """
        if self._poster is None:
            return "The message could not be saved; ask the caller to call back later."
        result = await self._poster.post(
            caller_name=caller_name,
            callback_number=callback_number,
            reason=reason,
            urgency=urgency,
        )
        self.messages_posted.append(result)
        if result in ("stored", "already_stored"):
            return "The message is saved; the team will see it. Tell the caller."
        if result == "rejected":
            return "The message was refused: check the call-back number with the caller."
        return "The message could not be saved; ask the caller to call back later."


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
