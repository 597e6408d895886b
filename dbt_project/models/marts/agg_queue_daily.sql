with

visits as (

    select * from {{ ref('fct_queue_visits') }}

),

counted as (

    select
        platform,
        queue,
        entered_date as day,
        {{ queue_metric_columns() }}
    from visits
    group by platform, queue, entered_date

),

final as (

    select
        counted.*,
        {{ queue_metric_ratios() }}
    from counted

)

select * from final
