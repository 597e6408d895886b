with

visits as (

    select * from {{ ref('fct_queue_visits') }}

),

counted as (

    select
        platform,
        queue,
        entered_interval_start as interval_start,
        -- the interval as an instant: on the night clocks fall back, the repeated local hour's
        -- quarters are two intervals each, not one (zones' offsets are whole quarter hours, so
        -- UTC quarters are the local ones)
        {{ epoch_to_timestamptz('floor(extract(epoch from entered_at) / 900) * 900') }} as interval_started_at,
        entered_date as day,
        {{ queue_metric_columns() }}
    from visits
    group by platform, queue, entered_interval_start, 4, entered_date

),

final as (

    select
        counted.*,
        {{ queue_metric_ratios() }}
    from counted

)

select * from final
