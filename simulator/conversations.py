"""Conversations as timelines: the org they happen in and the scripts that generate them.

A conversation is a list of legs. A leg is one participant with its one
communication, and it carries every timestamp of its life (alert, connect,
holds, end, after-call work). No state is stored: the state at any moment is
derived from those timestamps. So the frame emitted at a change, and every
later snapshot, REST conversation or analytics record of that moment, come
from one source and agree.

All times are epoch seconds rounded to the millisecond, the precision Genesys
Cloud uses in its timestamps.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

_OVERSIZED_PARTICIPANTS = 40


@dataclass(frozen=True)
class Media:
    """One media type under every name Genesys gives it."""

    analytics: str  # analytics sessions[].mediaType: voice, callback, chat, message
    array: str  # participant array and topic suffix: calls, callbacks, chats, messages
    detail: str  # detail events' mediaType: VOICE, CALLBACK, CHAT, MESSAGE
    provider: str


VOICE = Media("voice", "calls", "VOICE", "Edge")
CALLBACK = Media("callback", "callbacks", "CALLBACK", "PureCloud Callback")
CHAT = Media("chat", "chats", "CHAT", "PureCloud Webchat v2")
MESSAGE = Media("message", "messages", "MESSAGE", "PureCloud Messaging")
MEDIA_BY_NAME = {media.analytics: media for media in (VOICE, CALLBACK, CHAT, MESSAGE)}


@dataclass(frozen=True)
class Queue:
    id: str
    name: str


@dataclass(frozen=True)
class User:
    id: str
    name: str
    email: str


@dataclass(frozen=True)
class WrapupCode:
    id: str
    name: str


@dataclass(frozen=True)
class Org:
    """The routing configuration every generated conversation draws from."""

    division_id: str
    queues: tuple[Queue, ...]
    users: tuple[User, ...]
    wrapup_codes: tuple[WrapupCode, ...]
    flow_id: str
    script_id: str

    def queue(self, queue_id: str) -> Queue:
        for queue in self.queues:
            if queue.id == queue_id:
                return queue
        raise KeyError(f"Queue {queue_id} is not in the simulated org.")

    def user(self, user_id: str) -> User:
        for user in self.users:
            if user.id == user_id:
                return user
        raise KeyError(f"User {user_id} is not in the simulated org.")

    def wrapup_code(self, code_id: str) -> WrapupCode:
        for code in self.wrapup_codes:
            if code.id == code_id:
                return code
        raise KeyError(f"Wrap-up code {code_id} is not in the simulated org.")


@dataclass
class Leg:
    """One participant and its single communication, with every timestamp of its life.

    ``start`` is when the participant appears (an agent starts alerting then).
    An agent that never answers has ``connected`` None. ``holds`` are closed
    intervals inside the connected period. ``acw_start``/``acw_end`` bound the
    agent's after-call work, which ends with ``wrapup_code`` applied.
    """

    participant_id: str
    communication_id: str
    purpose: str  # customer, ivr, acd, agent
    start: float
    name: str | None = None
    user_id: str | None = None
    queue_id: str | None = None
    connected: float | None = None
    end: float | None = None
    disconnect_type: str | None = None
    holds: list[tuple[float, float]] = field(default_factory=list)
    acw_start: float | None = None
    acw_end: float | None = None
    wrapup_code: str | None = None
    peer_id: str | None = None  # the customer's communication id, on every other leg

    def finish(self) -> float:
        """Return when this leg has nothing left to do (after-call work included)."""
        finish = self.finish_time()
        assert finish is not None, f"Leg {self.participant_id} has no end."
        return finish

    def finish_time(self) -> float | None:
        """Return the participant's ``endTime``: its end, or the end of its after-call work.

        An agent in after-call work has a disconnected communication but no
        participant ``endTime`` yet, as in captured Genesys Cloud frames.
        """
        return self.acw_end if self.acw_end is not None else self.end

    def change_times(self) -> list[float]:
        times = [self.start]
        for value in (self.connected, self.end, self.acw_start, self.acw_end):
            if value is not None:
                times.append(value)
        for hold_start, hold_end in self.holds:
            times.extend((hold_start, hold_end))
        return times


@dataclass
class Conversation:
    """A whole conversation: its customer, routing and agent legs, in order of appearance."""

    id: str
    media: Media
    legs: list[Leg]
    customer_address: str  # ani for voice, the sender for messages, empty for chats
    dnis: str
    message_type: str | None  # messages only: sms or webmessaging
    external_contact_id: str | None
    callback_scheduled: float | None  # callbacks only
    recording: bool
    attributes: dict[str, str]
    silent_until: float | None = None  # started before the simulation and quiet until then

    @property
    def start(self) -> float:
        return self.legs[0].start

    @property
    def end(self) -> float:
        """Return when the last leg finishes, after-call work included."""
        return max(leg.finish() for leg in self.legs)

    @property
    def customer(self) -> Leg:
        return self.legs[0]

    def change_times(self) -> list[float]:
        """Return every distinct moment the conversation changes, in order."""
        times: set[float] = set()
        for leg in self.legs:
            times.update(leg.change_times())
        return sorted(times)


@dataclass(frozen=True)
class Behaviour:
    """Probabilities and durations (seconds) of the scripted conversation flows."""

    ivr: float = 0.5  # voice only
    abandon: float = 0.1
    missed_alert: float = 0.15  # per alert, at most two missed alerts per routing
    decline: float = 0.5  # of missed alerts: the agent rejects, else the alert times out
    alert_timeout: float = 30.0
    hold: float = 0.3  # voice only
    transfer: float = 0.15
    transfer_to_queue: float = 0.6  # of transfers: to another queue, else straight to an agent
    agent_hangs_up: float = 0.3


def new_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _ms(value: float) -> float:
    return round(value, 3)


def build_org(rng: random.Random, queues: int, agents: int) -> Org:
    if queues < 1 or agents < 1:
        raise ValueError(
            f"The simulated org needs at least one queue and one agent, got {queues} queues "
            f"and {agents} agents."
        )
    queue_names = ("Sales", "Support", "Billing", "Claims", "Retention", "Technical", "Returns")
    built_queues = tuple(
        Queue(new_uuid(rng), f"{queue_names[i % len(queue_names)]} {i // len(queue_names) + 1}")
        for i in range(queues)
    )
    users = tuple(
        User(new_uuid(rng), f"Agent {i + 1:03d}", f"agent{i + 1:03d}@example.com")
        for i in range(agents)
    )
    codes = tuple(
        WrapupCode(new_uuid(rng), name)
        for name in ("Resolved", "Follow-up needed", "Sale", "Complaint", "Wrong number")
    )
    return Org(new_uuid(rng), built_queues, users, codes, new_uuid(rng), new_uuid(rng))


class ConversationScript:
    """Generate one conversation's legs by playing a routing script with a seeded rng.

    The flow: customer, optional IVR (voice), then routing to a queue: an ACD
    leg, alerts that agents may reject or let time out, an agent who answers,
    talk with optional holds, an optional transfer (to another queue or straight
    to an agent, after which the flow repeats), then a hang-up by either side
    and the agents' after-call work. A customer may abandon in the first queue.

    NOTE: agents are picked at random with no availability, so one agent may
    be on two calls at once. Callbacks stay on the ``callbacks`` array: the
    outbound call an agent places for a callback is not modelled, and neither
    are consult transfers, conferences or voicemail.
    """

    def __init__(
        self,
        rng: random.Random,
        org: Org,
        media: Media,
        behaviour: Behaviour,
    ) -> None:
        self._rng = rng
        self._org = org
        self._media = media
        self._behaviour = behaviour
        self._legs: list[Leg] = []

    def build(
        self, start: float, silent_until: float | None = None, *, oversized: bool = False
    ) -> Conversation:
        """Play the script from ``start``.

        With ``silent_until``, the conversation is already connected to an agent
        and changes nothing (no hold, no transfer) until that time. An
        ``oversized`` conversation has 40 participants and attributes of about
        240 KB of JSON on the customer and on the ACD participant.
        """
        rng = self._rng
        conversation_id = new_uuid(rng)
        number = f"+1555{rng.randrange(10**7):07d}"
        customer_name = f"Customer {rng.randrange(1, 10_000):04d}"
        message_type = rng.choice(("sms", "webmessaging")) if self._media is MESSAGE else None
        customer_address = {
            "voice": f"tel:{number}",
            "callback": f"tel:{number}",
            "chat": "",
            "message": number if message_type == "sms" else "",
        }[self._media.analytics]
        conversation = Conversation(
            id=conversation_id,
            media=self._media,
            legs=self._legs,
            customer_address=customer_address,
            dnis="tel:+18005550100",
            message_type=message_type,
            external_contact_id=new_uuid(rng) if rng.random() < 0.5 else None,
            callback_scheduled=(
                _ms(start - rng.uniform(30.0, 600.0)) if self._media is CALLBACK else None
            ),
            recording=self._media is VOICE and rng.random() < 0.8,
            attributes=self._attributes(oversized),
            silent_until=silent_until,
        )

        customer = self._add_leg("customer", start, name=customer_name)
        customer.connected = customer.start
        if silent_until is not None:
            self._play_silent(customer, silent_until)
        elif oversized:
            self._play_oversized(customer)
        else:
            self._play(customer)
        return conversation

    # Script steps

    def _play(self, customer: Leg) -> None:
        rng = self._rng
        behaviour = self._behaviour
        t = customer.start

        if self._media is VOICE and rng.random() < behaviour.ivr:
            ivr = self._add_leg("ivr", t, name="Main IVR")
            ivr.connected = ivr.start
            t = _ms(t + rng.uniform(5.0, 40.0))
            self._end(ivr, t, "transfer")

        queue_id = rng.choice(self._org.queues).id
        customer.queue_id = queue_id
        agent = self._route_to_queue(customer, queue_id, t, may_abandon=True)
        if agent is None:
            return
        transfers_left = 1 if rng.random() < behaviour.transfer else 0

        while True:
            assert agent.connected is not None
            t = self._talk(agent, agent.connected)
            if transfers_left == 0:
                break
            transfers_left -= 1
            self._end(agent, t, "transfer")
            self._after_call_work(agent)
            if rng.random() < behaviour.transfer_to_queue and len(self._org.queues) > 1:
                others = [q for q in self._org.queues if q.id != queue_id]
                queue_id = rng.choice(others).id
                agent = self._route_to_queue(customer, queue_id, t, may_abandon=False)
            else:
                agent = self._alert_agents(t, queue_id=None, exclude={agent.user_id})
            assert agent is not None

        if rng.random() < behaviour.agent_hangs_up:
            self._end(agent, t, "client")
            self._end(customer, t, "peer")
        else:
            self._end(customer, t, "client")
            self._end(agent, t, "peer")
        self._after_call_work(agent)

    def _play_silent(self, customer: Leg, silent_until: float) -> None:
        """Connect an agent at once and talk, with no change, until after ``silent_until``."""
        rng = self._rng
        queue_id = rng.choice(self._org.queues).id
        customer.queue_id = queue_id
        acd = self._add_leg("acd", customer.start, queue_id=queue_id)
        acd.connected = acd.start
        wait = _ms(customer.start + rng.uniform(3.0, 30.0))
        user = rng.choice(self._org.users)
        agent = self._add_leg("agent", wait, user_id=user.id, queue_id=queue_id)
        agent.connected = _ms(wait + rng.uniform(2.0, 8.0))
        self._end(acd, agent.connected, "transfer")
        t = _ms(max(silent_until, agent.connected) + rng.uniform(1.0, 60.0))
        self._end(customer, t, "client")
        self._end(agent, t, "peer")
        self._after_call_work(agent)

    def _play_oversized(self, customer: Leg) -> None:
        """Alert agents 37 times before one answers, for 40 participants in all."""
        rng = self._rng
        queue_id = rng.choice(self._org.queues).id
        customer.queue_id = queue_id
        acd = self._add_leg("acd", customer.start, queue_id=queue_id)
        acd.connected = acd.start
        t = customer.start
        for _ in range(_OVERSIZED_PARTICIPANTS - 3):
            t = _ms(t + rng.uniform(0.5, 2.0))
            user = rng.choice(self._org.users)
            missed = self._add_leg("agent", t, user_id=user.id, queue_id=queue_id)
            t = _ms(t + rng.uniform(1.0, 3.0))
            self._end(missed, t, "client")

        user = rng.choice(self._org.users)
        agent = self._add_leg("agent", _ms(t + 0.5), user_id=user.id, queue_id=queue_id)
        agent.connected = _ms(agent.start + rng.uniform(1.0, 5.0))
        self._end(acd, agent.connected, "transfer")
        t = self._talk(agent, agent.connected)
        self._end(customer, t, "client")
        self._end(agent, t, "peer")
        self._after_call_work(agent)

    def _attributes(self, oversized: bool) -> dict[str, str]:
        attributes = {"language": self._rng.choice(("en-US", "es-US", "fr-CA"))}
        if oversized:
            # 24 values of 10,000 characters: about 240 KB of JSON per participant.
            for index in range(24):
                attributes[f"context{index:02d}"] = self._rng.randbytes(5_000).hex()
        return attributes

    def _route_to_queue(
        self, customer: Leg, queue_id: str, t: float, *, may_abandon: bool
    ) -> Leg | None:
        """Queue the customer; return the agent leg that answers, or None on abandon."""
        rng = self._rng
        acd = self._add_leg("acd", t, queue_id=queue_id)
        acd.connected = acd.start
        t = _ms(t + rng.uniform(3.0, 90.0))

        if may_abandon and rng.random() < self._behaviour.abandon:
            self._end(customer, t, "client")
            self._end(acd, t, "peer")
            return None

        agent = self._alert_agents(t, queue_id=queue_id, exclude=set())
        assert agent.connected is not None
        self._end(acd, agent.connected, "transfer")
        return agent

    def _alert_agents(self, t: float, queue_id: str | None, exclude: set[str | None]) -> Leg:
        """Alert agents until one answers; up to two may reject or let the alert time out."""
        rng = self._rng
        behaviour = self._behaviour
        candidates = [user for user in self._org.users if user.id not in exclude]
        if not candidates:
            candidates = list(self._org.users)
        for _ in range(2):
            if rng.random() >= behaviour.missed_alert:
                break
            user = rng.choice(candidates)
            missed = self._add_leg("agent", t, user_id=user.id, queue_id=queue_id)
            if rng.random() < behaviour.decline:
                t = _ms(t + rng.uniform(1.0, 8.0))
                self._end(missed, t, "client")
            else:
                t = _ms(t + behaviour.alert_timeout)
                self._end(missed, t, "system")
            if len(candidates) > 1:
                candidates.remove(user)
            t = _ms(t + rng.uniform(0.2, 2.0))

        user = rng.choice(candidates)
        agent = self._add_leg("agent", t, user_id=user.id, queue_id=queue_id)
        agent.connected = _ms(t + rng.uniform(1.0, 10.0))
        return agent

    def _talk(self, agent: Leg, t: float) -> float:
        """Talk (with an optional hold for voice); return when the talk ends."""
        rng = self._rng
        scale = 3.0 if self._media in (CHAT, MESSAGE) else 1.0
        length = rng.uniform(30.0, 480.0) * scale
        if self._media is VOICE and rng.random() < self._behaviour.hold:
            hold_start = _ms(t + length * rng.uniform(0.2, 0.5))
            hold_end = _ms(hold_start + rng.uniform(5.0, min(120.0, length * 0.4)))
            agent.holds.append((hold_start, hold_end))
        return _ms(t + length)

    def _after_call_work(self, agent: Leg) -> None:
        assert agent.end is not None
        agent.acw_start = agent.end
        agent.acw_end = _ms(agent.end + self._rng.uniform(5.0, 90.0))
        agent.wrapup_code = self._rng.choice(self._org.wrapup_codes).id

    # Leg helpers

    def _add_leg(
        self,
        purpose: str,
        start: float,
        *,
        name: str | None = None,
        user_id: str | None = None,
        queue_id: str | None = None,
    ) -> Leg:
        leg = Leg(
            participant_id=new_uuid(self._rng),
            communication_id=new_uuid(self._rng),
            purpose=purpose,
            start=_ms(start),
            name=name,
            user_id=user_id,
            queue_id=queue_id,
        )
        if self._legs:
            leg.peer_id = self._legs[0].communication_id
        self._legs.append(leg)
        return leg

    @staticmethod
    def _end(leg: Leg, t: float, disconnect_type: str) -> None:
        leg.end = _ms(t)
        leg.disconnect_type = disconnect_type
