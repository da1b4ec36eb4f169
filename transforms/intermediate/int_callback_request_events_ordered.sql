-- Callback request events in the order they happened, per request.
-- Delivery order means nothing (at-least-once, no ordering): order by the payload's
-- updatedAt; on a tie a create comes before an update, then event_id decides.
-- grain: one row per event; event_sequence 1..events_count within a request
with

events as (
    select * from staging.stg_callback_request_events
    where callback_request_id is not null
),

final as (
    select
        *,
        row_number() over (
            partition by callback_request_id
            order by updated_at asc nulls first, (event_type ilike '%create%') desc, event_id asc
        ) as event_sequence,
        count(*) over (partition by callback_request_id) as events_count,
        is_closing_status(status) as is_closing
    from events
)

select * from final
