-- One row per status change of a callback request, in event order (updatedAt).
-- The first row of a request is its initial status (from_status null). Events that repeat
-- the previous status are not changes. time_in_previous_status_seconds is the time since
-- the previous change.
-- grain, key, columns and checks: transforms/marts/_models.toml
with

ordered as (
    select * from intermediate.int_callback_request_events_ordered
),

with_previous as (
    select
        *,
        lag(status) over (partition by callback_request_id order by event_sequence) as previous_status
    from ordered
),

changes as (
    select *
    from with_previous
    where event_sequence = 1 or status is distinct from previous_status
),

final as (
    select
        callback_request_id,
        row_number() over (partition by callback_request_id order by event_sequence) as change_index,
        previous_status as from_status,
        status as to_status,
        updated_at as changed_at,
        event_id,
        event_type,
        updated_by_type as changed_by_type,
        date_diff(
            'second',
            lag(updated_at) over (partition by callback_request_id order by event_sequence),
            updated_at
        ) as time_in_previous_status_seconds,
        event_sequence = 1 as is_initial_status
    from changes
)

select * from final
