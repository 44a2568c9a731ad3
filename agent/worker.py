"""The livekit-agents worker: one deployment, every clinic, explicit dispatch by agent_name.

Written against livekit-agents 1.8.9 (pinned `~=1.8.9` in the `[agent]` extra): AgentServer,
rtc_session(agent_name=..., on_request=...), AgentSession.start(record=...), Agent.on_enter /
on_user_turn_completed, StopResponse. Every livekit import is inside a function (the Agent
subclasses are in agent/agents.py, imported on first use), so this module and the rest of
`agent/` import without the extra; running it needs the extra.

Per job:
1. on_request (worker process): resolve the clinic from the job metadata, or the room name;
   reject only a job that names no clinic at all.
2. entrypoint (job process): connect to the room while fetching the clinic's config; 404 ->
   a short apology and hang up; unreachable platform -> the fallback message taker.
3. Closed now (the config's open_now): the after-hours greeting and instructions, or the
   receptionist chosen to answer after hours (agent.front_desk); every receptionist can take
   a message (take_message, posted once per message: agent.messages).
4. When the clinic requires recording consent, a consent agent asks first (agent.consent), then
   hands over to the receptionist; otherwise the receptionist greets at once.
5. When the job shuts down (the call is over), the worker posts the call's outcome to the
   platform once (agent.outcome; retried with the same body, which the platform recognises).

Recording: livekit-agents fixes a session's recording options at AgentSession.start(). So when
consent is required (or the config is the fallback) the session starts with record=False and
nothing of the call is recorded by the agent; the decision is published on the agent's
participant as the attribute `switchboard.recording_consent` (granted / declined) for a
recorder outside this worker to honour. Otherwise recording follows the LiveKit project setting.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import sys
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import aiohttp

from agent.clinic_config import DEFAULT_LANGUAGE, ClinicConfig
from agent.config import ModelPlan, ModelRef, Settings, load_settings, plan_models
from agent.consent import CONSENT_ATTRIBUTE, ConsentFlow, Decision
from agent.front_desk import routed_receptionist
from agent.messages import MessagePoster
from agent.metadata import UnroutableJob, resolve_target
from agent.outcome import CallRecord, build_outcome
from agent.platform_client import (
    ClinicNotServed,
    ConfigCache,
    PlatformClient,
    post_outcome,
    redact,
)

if TYPE_CHECKING:
    from livekit.agents import AgentServer, JobContext, JobProcess, JobRequest

logger = logging.getLogger("switchboard.agent")

CLINIC_ATTRIBUTE = "switchboard.clinic"
NOT_SERVED_MESSAGE = {
    "en-US": "Sorry, this number is not in service. Goodbye.",
}

# One per job process: a process that fetches the same clinic twice (or a thread executor
# running many jobs) asks the platform once per config version.
_CACHE = ConfigCache()


def _import_plugins() -> None:
    """livekit plugins must be imported on the main thread of each process that uses them."""
    import livekit.plugins.cartesia
    import livekit.plugins.deepgram
    import livekit.plugins.openai  # noqa: F401


def _prewarm(proc: JobProcess) -> None:
    _import_plugins()


def build_server(settings: Settings) -> AgentServer:
    from livekit.agents import AgentServer

    _import_plugins()
    server = AgentServer(
        ws_url=settings.livekit_url,
        api_key=settings.livekit_api_key,
        api_secret=settings.livekit_api_secret,
        setup_fnc=_prewarm,
    )
    # An explicit agent_name turns automatic dispatch off: this worker only gets the jobs
    # that a dispatch rule (room_config.agents) names it for. Note that livekit-agents lets
    # LIVEKIT_AGENT_NAME_OVERRIDE win over this argument.
    server.rtc_session(entrypoint, agent_name=settings.agent_name, on_request=on_request)
    logger.info(
        "serving Switchboard project %s at %s as %s",
        settings.project,
        settings.livekit_url,
        settings.agent_name,
    )
    return server


def run(settings: Settings, argv: Sequence[str]) -> int:
    """Hand over to livekit-agents' CLI (`start`, `dev`, `console`, `download-files`)."""
    try:
        from livekit.agents import cli
    except ImportError:
        print(
            "switchboard agent: livekit-agents is not installed; install the extra: "
            "pip install -e '.[agent]'",
            file=sys.stderr,
        )
        return 2
    server = build_server(settings)
    sys.argv = ["python -m agent", *argv]
    with warnings.catch_warnings():
        # 1.8 marks its built-in CLI deprecated in favour of the `lk` CLI; it is still the
        # public way to run a server from a script.
        warnings.filterwarnings("ignore", "the built-in Python CLI is deprecated")
        cli.run_app(server)
    return 0


async def on_request(req: JobRequest) -> None:
    try:
        target = resolve_target(req.job.metadata, req.room.name)
    except UnroutableJob as exc:
        logger.error("rejecting job %s in room %r: %s", req.id, req.room.name, exc)
        await req.reject()
        return
    clinic = str(target.clinic) if target.clinic else ""
    await req.accept(name="Receptionist", attributes={CLINIC_ATTRIBUTE: clinic})


def build_models(plan: ModelPlan, config: ClinicConfig) -> dict[str, Any]:
    from livekit.plugins import cartesia, deepgram, openai

    language = config.language
    short = language.split("-")[0]

    def stt(ref: ModelRef) -> Any:
        if ref.provider == "deepgram":
            return deepgram.STT(model=ref.name, language=language)
        return openai.STT(model=ref.name, language=short)

    def tts(ref: ModelRef) -> Any:
        voice = config.voice
        if ref.provider == "cartesia":
            if voice:
                return cartesia.TTS(model=ref.name, voice=voice, language=short)
            return cartesia.TTS(model=ref.name, language=short)
        if ref.provider == "deepgram":
            return deepgram.TTS(model=ref.name)  # Deepgram's model name includes the voice
        return openai.TTS(model=ref.name, voice=voice) if voice else openai.TTS(model=ref.name)

    return {"stt": stt(plan.stt), "llm": openai.LLM(model=plan.llm.name), "tts": tts(plan.tts)}


def _agent_classes() -> tuple[type, type]:
    """The agent subclasses (agent/agents.py), imported on first use: they need the extra."""
    from agent.agents import ConsentAgent, Receptionist

    return Receptionist, ConsentAgent


async def entrypoint(ctx: JobContext) -> None:
    settings = load_settings()
    try:
        target = resolve_target(ctx.job.metadata, ctx.job.room.name)
    except UnroutableJob as exc:  # on_request rejects these; a hand-made dispatch may not
        logger.error("job %s: %s", ctx.job.id, exc)
        ctx.shutdown(reason="no clinic")
        return
    if target.metadata_error:
        logger.error(
            "job %s: bad dispatch metadata (%s); resolving by room %r",
            ctx.job.id,
            target.metadata_error,
            target.room,
        )
    # Join the room while the config is on its way: the caller is already waiting.
    config, _ = await asyncio.gather(
        config_for_call(settings, target), ctx.connect(), return_exceptions=False
    )
    if config is None:
        await _end_politely(ctx)
        return
    await _run_receptionist(ctx, config, settings)


async def config_for_call(settings: Settings, target: Any) -> ClinicConfig | None:
    """The settings the receptionist answers this call with: the line's config, or, when
    the clinic is closed and the line hands its calls to an after-hours receptionist, that
    receptionist's (answering as when open). None: the clinic is not served here."""
    async with PlatformClient(
        endpoint=settings.config_endpoint(),
        token=settings.agent_token,
        cache=_CACHE,
        deadline_s=settings.config_deadline_s,
        project=settings.project,
    ) as client:
        fetched = await _fetch_or_none(client, target)
    if fetched is None:
        return None
    config: ClinicConfig = fetched.config
    routed = routed_receptionist(config)
    if routed is not None:  # closed, and this line hands its calls to another receptionist
        config = await _routed_config(settings, target, routed) or config
    return config


async def _routed_config(settings: Settings, target: Any, receptionist: int) -> Any:
    """The after-hours receptionist's config, answering as when open (a route is followed
    once); None when it cannot be fetched (the line then takes a message itself)."""
    async with PlatformClient(
        endpoint=settings.config_endpoint(),
        token=settings.agent_token,
        cache=_CACHE,
        deadline_s=settings.config_deadline_s,
        project=settings.project,
    ) as client:
        try:
            result = await client.fetch_config(
                dataclasses.replace(target, receptionist=receptionist, config_version=None)
            )
        except ClinicNotServed:
            return None
    if result.source == "fallback" or result.config.call_time is None:
        return None
    opened = dataclasses.replace(result.config.call_time, open_now=True)
    return dataclasses.replace(result.config, call_time=opened)


async def _fetch_or_none(client: PlatformClient, target: Any) -> Any:
    try:
        return await client.fetch_config(target)
    except ClinicNotServed as exc:
        logger.warning("%s; ending the call", exc)
        return None


async def _run_receptionist(ctx: JobContext, config: ClinicConfig, settings: Settings) -> None:
    from livekit.agents import AgentSession

    plan = plan_models({"stt": config.stt_model, "llm": config.llm_model, "tts": config.tts_model})
    for note in plan.substitutions:
        logger.warning("clinic %s: %s", config.clinic, note)
    receptionist_cls, consent_cls = _agent_classes()
    http = aiohttp.ClientSession()
    poster = MessagePoster(
        url=settings.messages_endpoint(),
        token=settings.agent_token,
        room=ctx.room.name,
        session=http,
    )
    ctx.add_shutdown_callback(http.close)
    receptionist = receptionist_cls(config, poster)
    flow = ConsentFlow(config.language, required=config.recording_consent_required)
    record = CallRecord()
    if flow.done:  # consent not required: nothing asked
        record.decide(Decision.NOT_REQUIRED)
    first = receptionist if flow.done else consent_cls(flow, then=receptionist, record=record)
    session: AgentSession[None] = AgentSession(**build_models(plan, config))
    _follow_conversation(session, record)
    ctx.add_shutdown_callback(
        functools.partial(_report_outcome, settings, ctx.room.name, config, record)
    )
    options: dict[str, Any] = {}
    if config.recording_consent_required or config.is_fallback:
        options["record"] = False
    if flow.decision is Decision.NOT_REQUIRED and not config.is_fallback:
        await ctx.room.local_participant.set_attributes(
            {CONSENT_ATTRIBUTE: Decision.NOT_REQUIRED.value}
        )
    await session.start(agent=first, room=ctx.room, **options)


def _follow_conversation(session: Any, record: CallRecord) -> None:
    """Keep each finished turn (the caller's and the receptionist's) in the call record."""

    def added(event: Any) -> None:
        item = event.item
        role = getattr(item, "role", None)
        text = getattr(item, "text_content", None) or ""
        if role == "user":
            record.add("caller", text)
        elif role == "assistant":
            record.add("agent", text)

    session.on("conversation_item_added", added)


async def _report_outcome(
    settings: Settings, room_name: str, config: ClinicConfig, record: CallRecord
) -> None:
    """The job's shutdown callback: post what happened on the call, once."""
    body = build_outcome(record, keep_transcripts=config.keep_transcripts)
    async with PlatformClient(endpoint=settings.config_endpoint(), token=settings.agent_token) as c:
        result = await post_outcome(c, settings.outcome_endpoint(room_name), body)
    logger.info("call outcome %s: %s (room %s)", body["outcome"], result, redact(room_name))


async def _end_politely(ctx: JobContext) -> None:
    """Not a clinic we serve: say so with the default TTS, then hang up (delete the room)."""
    from livekit.agents import Agent, AgentSession
    from livekit.plugins import openai

    # TTS only: nothing is listened to or generated, the message is said once.
    session: AgentSession[None] = AgentSession(tts=openai.TTS(), vad=None)
    try:
        await session.start(agent=Agent(instructions="Say nothing."), room=ctx.room, record=False)
        await session.say(NOT_SERVED_MESSAGE[DEFAULT_LANGUAGE], allow_interruptions=False)
    finally:
        await session.aclose()
        await ctx.delete_room()
        ctx.shutdown(reason="clinic not served")
