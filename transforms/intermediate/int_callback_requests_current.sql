-- The current state of every callback request: its latest event (see the ordering in
-- int_callback_request_events_ordered), with lifecycle facts over all its events.
-- Timestamps are optional in the spec: first_seen_at, last_seen_at, first_created_at and
-- closed_at are null when no event of the request carries the timestamp they need.
-- grain, key, columns and checks: transforms/intermediate/_models.toml
with

ordered as (
    select * from intermediate.int_callback_request_events_ordered
),

lifecycle as (
    select
        callback_request_id,
        min(coalesce(updated_at, created_at)) as first_seen_at,
        max(coalesce(updated_at, created_at)) as last_seen_at,
        min(created_at) as first_created_at,
        min(updated_at) filter (where is_closing) as closed_at
    from ordered
    group by 1
),

final as (
    select
        ordered.*,
        lifecycle.first_seen_at,
        lifecycle.last_seen_at,
        lifecycle.first_created_at,
        lifecycle.closed_at
    from ordered
    inner join lifecycle using (callback_request_id)
    where ordered.event_sequence = ordered.events_count
)

select * from final
