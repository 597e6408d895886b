{#
  Interval union ("gaps and islands"): returns every row of `relation` with an `island_no`
  that numbers, per `partition_by`, the groups of overlapping [start, end] intervals
  (with merge_touching, also intervals that merely touch: one ends when the next starts).
  Grouping by (partition_by, island_no) and taking min(start)/max(end) gives the union, so
  time covered twice (an agent in three queues, a PAUSEALL and its per-queue PAUSE cascade)
  is counted once.
#}
{% macro interval_islands(relation, partition_by, start_col, end_col, tiebreak, merge_touching=true) -%}
    select
        flagged.*,
        count(case when starts_island = 1 then 1 end) over (
            partition by {{ partition_by }}
            order by {{ start_col }}, {{ end_col }} desc, {{ tiebreak }}
            rows between unbounded preceding and current row
        ) as island_no
    from (
        select
            ordered.*,
            case
                when ordered.previous_max_end is null
                    or ordered.{{ start_col }} {{ '>' if merge_touching else '>=' }} ordered.previous_max_end then 1
                else 0
            end as starts_island
        from (
            select
                src.*,
                max(src.{{ end_col }}) over (
                    partition by {{ partition_by }}
                    order by src.{{ start_col }}, src.{{ end_col }} desc, {{ tiebreak }}
                    rows between unbounded preceding and 1 preceding
                ) as previous_max_end
            from {{ relation }} as src
        ) as ordered
    ) as flagged
{%- endmacro %}


{#
  Splits [start_epoch, end_epoch) intervals at local midnights of var('reporting_timezone').
  Returns every column of `relation` plus `day` (local date) and `seconds_in_day`; pieces of
  zero length are dropped (an interval of zero length yields no row).
#}
{% macro split_by_local_day(relation, start_col, end_col) -%}
    select
        pieces.*,
        pieces.piece_end_epoch - pieces.piece_start_epoch as seconds_in_day
    from (
        select
            days.*,
            greatest(days.{{ start_col }}, {{ local_midnight_epoch('days.day') }}) as piece_start_epoch,
            least(
                days.{{ end_col }},
                {{ local_midnight_epoch('cast(' ~ dbt.dateadd('day', 1, 'days.day') ~ ' as date)') }}
            ) as piece_end_epoch
        from (
            select
                fanned.*,
                cast({{ dbt.dateadd('day', 'fanned.day_offset', 'fanned.first_day') }} as date) as day
            from (
                select
                    bounded.*,
                    {{ fan_out_series(0, dbt.datediff('bounded.first_day', 'bounded.last_day', 'day')) }} as day_offset
                from (
                    select
                        src.*,
                        cast({{ epoch_to_local_timestamp('src.' ~ start_col) }} as date) as first_day,
                        cast({{ epoch_to_local_timestamp('src.' ~ end_col) }} as date) as last_day
                    from {{ relation }} as src
                ) as bounded
            ) as fanned
        ) as days
    ) as pieces
    where pieces.piece_end_epoch > pieces.piece_start_epoch
{%- endmacro %}
