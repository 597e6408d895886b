"""Call journeys for the channel-renderer tests, built with the simulator's own data model.

The channel renderers only read journeys; these are drawn independently of the Webex call
simulator so the channel tests stay fast and do not depend on its queueing model. Every kind
of journey the renderers treat differently appears: AI-agent calls resolved / escalated /
abandoned, human-answered calls with recorded legs (one transferred), collections calls,
unknown callers, and a call still going on at the end of the period.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from simulator.model import TOPICS, CallJourney, Population, RecordedLeg

AI_TOPICS = ("saldo_movimientos", "bloqueo_tarjeta", "clave_app", "pago_tarjeta", "extracto",
             "transaccion_no_reconocida", "english_service")


def make_journeys(population: Population, seed: int, start: datetime, days: int,
                  per_day: int) -> list[list[CallJourney]]:
    """``days`` day batches of ``per_day`` journeys each, in start order within a day."""
    rng = random.Random(f"test-journeys:{seed}")
    agents = [a for a in population.agents if a.role == "agent"]
    collectors = [a for a in population.agents if a.role == "collections"] or agents
    ai_line = population.service("ai_agent").number
    out: list[list[CallJourney]] = []
    n = 0
    for day in range(days):
        batch = []
        day_start = start + timedelta(days=day, hours=12)  # 07:00 Bogotá
        times = sorted(rng.uniform(0, 11 * 3600) for _ in range(per_day))
        for t in times:
            n += 1
            began = day_start + timedelta(seconds=t)
            customer = rng.choice(population.customers) if rng.random() > 0.06 else None
            caller = customer.primary_phone.e164 if customer else "+5760" + str(rng.randrange(11_000_000, 19_999_999))
            kind = rng.random()
            language = customer.language if customer else "es"
            if kind < 0.45:  # AI first
                topic = "english_service" if language == "en" else rng.choice(AI_TOPICS[:-1])
                ai_outcome = rng.choices(("resolved", "escalated", "abandoned"), (0.55, 0.38, 0.07))[0]
                ai_end = began + timedelta(seconds=rng.uniform(15, 40) if ai_outcome == "abandoned" else rng.uniform(60, 200))
                agent = rng.choice(agents) if ai_outcome == "escalated" else None
                talk = int(rng.uniform(90, 400)) if agent else 0
                ended = ai_end + timedelta(seconds=rng.uniform(5, 60) + talk) if agent else ai_end
                legs = _legs(rng, n, agent, caller, ai_end + timedelta(seconds=20), talk) if agent else ()
                batch.append(CallJourney(
                    journey_id=f"J{seed:02d}{n:07d}", customer_id=customer.customer_id if customer else None,
                    caller_number=caller, callee_number=ai_line, direction="inbound", call_type="service",
                    started_at=began, ended_at=ended, channel_entry="ai_agent", ai_outcome=ai_outcome,
                    ai_started_at=began + timedelta(seconds=1), ai_ended_at=ai_end, ai_line_number=ai_line,
                    hops=("PSTN", "Asistente Virtual IA"), queue=TOPICS[topic].queue or None,
                    queues=(TOPICS[topic].queue,) if agent else (), agent_id=agent.agent_id if agent else None,
                    agent_ids=(agent.agent_id,) if agent else (), talk_seconds=talk, recorded=bool(legs),
                    recordings=legs, language=language, topic=topic,
                    outcome="answered" if agent else ("ai_resolved" if ai_outcome == "resolved" else "abandoned"),
                ))
            elif kind < 0.9:  # straight to a human queue
                topic = rng.choice([k for k, v in TOPICS.items() if v.queue])
                agent = rng.choice(agents)
                talk = int(rng.uniform(60, 600))
                answered = began + timedelta(seconds=rng.uniform(10, 90))
                legs = _legs(rng, n, agent, caller, answered, talk, transfer_to=rng.choice(agents) if rng.random() < 0.1 else None)
                ended = answered + timedelta(seconds=talk)
                batch.append(CallJourney(
                    journey_id=f"J{seed:02d}{n:07d}", customer_id=customer.customer_id if customer else None,
                    caller_number=caller, callee_number="+576017460000", direction="inbound",
                    call_type="service", started_at=began, ended_at=ended, channel_entry="pstn",
                    ai_outcome=None, ai_started_at=None, ai_ended_at=None, ai_line_number=None,
                    hops=("PSTN", "AA Principal", TOPICS[topic].queue, agent.name), queue=TOPICS[topic].queue,
                    queues=(TOPICS[topic].queue,), agent_id=agent.agent_id, agent_ids=(agent.agent_id,),
                    talk_seconds=talk, recorded=bool(legs), recordings=legs, language=language, topic=topic,
                    outcome="answered",
                ))
            elif customer:  # collections
                agent = rng.choice(collectors)
                talk = int(rng.uniform(40, 300))
                ended = began + timedelta(seconds=15 + talk)
                legs = _legs(rng, n, agent, customer.primary_phone.e164, began + timedelta(seconds=15), talk,
                             personality="originator")
                batch.append(CallJourney(
                    journey_id=f"J{seed:02d}{n:07d}", customer_id=customer.customer_id,
                    caller_number="+576017460300", callee_number=customer.primary_phone.e164,
                    direction="outbound", call_type="collections", started_at=began, ended_at=ended,
                    channel_entry="pstn", ai_outcome=None, ai_started_at=None, ai_ended_at=None,
                    ai_line_number=None, hops=("Dialer", customer.primary_phone.e164), queue=None, queues=(),
                    agent_id=agent.agent_id, agent_ids=(agent.agent_id,), talk_seconds=talk, recorded=bool(legs),
                    recordings=legs, language="es", topic="cobranza", outcome="answered",
                ))
        out.append(batch)
    return out


def _legs(rng: random.Random, n: int, agent, caller: str, answered: datetime, talk: int,
          transfer_to=None, personality: str = "terminator") -> tuple[RecordedLeg, ...]:
    if rng.random() < 0.2:
        return ()
    first_talk = talk if transfer_to is None else talk // 2
    legs = [RecordedLeg(
        recording_id=f"{rng.getrandbits(128):032x}", owner_agent_id=agent.agent_id, owner_uuid=agent.user_uuid,
        owner_email=agent.email, location_uuid=agent.location_uuid,
        correlation_id=f"{rng.getrandbits(128):032x}", local_call_id=f"{rng.randrange(10**8, 10**9)}:0",
        remote_party=caller, personality=personality, started_at=answered,
        ended_at=answered + timedelta(seconds=first_talk), trigger="always",
        result=rng.choices(("successful", "failed"), (0.97, 0.03))[0],
    )]
    if transfer_to is not None:
        t2 = answered + timedelta(seconds=first_talk + 3)
        legs.append(RecordedLeg(
            recording_id=f"{rng.getrandbits(128):032x}", owner_agent_id=transfer_to.agent_id,
            owner_uuid=transfer_to.user_uuid, owner_email=transfer_to.email, location_uuid=transfer_to.location_uuid,
            correlation_id=legs[0].correlation_id, local_call_id=f"{rng.randrange(10**8, 10**9)}:0",
            remote_party=caller, personality="terminator", started_at=t2,
            ended_at=t2 + timedelta(seconds=talk - first_talk), trigger="always", result="successful",
        ))
    return tuple(legs)
