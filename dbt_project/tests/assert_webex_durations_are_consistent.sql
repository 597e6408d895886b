{{ config(meta={
    'description': "Webex record, queue-visit and journey durations agree with their own timestamps (1 s of rounding allowed).",
    'dagster': {'ref': {'name': 'int_webex__journeys'}}}) }}
-- Durations of Webex records, visits and journeys agree with their own timestamps (1 s of
-- rounding allowed: Webex floors durations, timestamps carry milliseconds):
-- * a record is answered within its span and talks no longer than answer -> release;
-- * a queue visit ends after it starts, waits no longer than it lasted;
-- * a journey's time in auto attendants and queues fits in its span.
with

legs as (

    select * from {{ ref('int_webex__legs') }}

),

visits as (

    select * from {{ ref('int_webex__queue_visits') }}

),

journeys as (

    select * from {{ ref('int_webex__journeys') }}

)

select 'record answered outside its span' as problem, report_id as item
from legs
where answered_at < started_at or answered_at > released_at

union all

select 'record talks longer than answer to release', report_id
from legs
where answered_at is not null and released_at is not null
    and duration_seconds > {{ seconds_between('answered_at', 'released_at') }} + 1

union all

select 'record ends before it starts', report_id
from legs
where released_at < started_at

union all

select 'visit ends before it starts or waits longer than it lasts', visit_id
from visits
where ended_at < entered_at
    or wait_seconds < 0
    or wait_seconds > {{ seconds_between('entered_at', 'ended_at') }} + 1

union all

select 'journey auto attendant + queue time longer than the journey', journey_id
from journeys
where ended_at is not null
    and auto_attendant_seconds + queue_seconds > {{ seconds_between('started_at', 'ended_at') }} + 1
