{#
  The de-duplicated event stream, segmented by PBX boot. Asterisk writes QUEUESTART when it
  (re)starts; every event belongs to the boot that precedes it (boot 0 = events before the
  first QUEUESTART in the data). Nothing survives a restart, so calls, sessions and pauses are
  reconstructed within one boot. Only the events the intermediate models read are kept
  (asterisk_modelled_events: CONFIGRELOAD and other noise stay in staging).

  A view: staging already numbers the boots in its ordering pass, so this is a filter, and a
  10M-row copy of it would cost more than every reader filtering staging.
#}
{{ config(materialized='view') }}

select
    event_id,
    pbx,
    boot_no,
    event_seq,
    event_epoch,
    event_at,
    callid,
    queue,
    agent,
    event,
    data1,
    data2,
    data3,
    data4,
    data5,
    data6,
    dbt_refreshed_at
from {{ ref('stg_asterisk__queue_events') }}
where not is_duplicate
    and event in {{ asterisk_modelled_events() }}
