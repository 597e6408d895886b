with

visits as (

    select * from {{ ref('fct_queue_visits') }}

),

counted as (

    select
        platform,
        queue,
        entered_interval_start as interval_start,
        entered_date as day,
        {{ queue_metric_columns() }}
    from visits
    group by platform, queue, entered_interval_start, entered_date

),

final as (

    select
        counted.*,
        {{ queue_metric_ratios() }}
    from counted

)

select * from final
