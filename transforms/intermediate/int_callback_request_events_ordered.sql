-- Callback request events in the order they happened, per request.
-- Delivery order means nothing (at-least-once, no ordering): order by the payload's
-- updatedAt; on a tie a create comes before an update, then event_id decides.
-- The spec makes updatedAt optional: an event without a usable one (missing, null, not a
-- timestamp) is undated. Undated events come before every dated event of their request (they
-- can never displace a dated state), and among themselves a create comes first, then they
-- follow their place in the archive (source file path, then position in the file), which
-- every event has; event_id decides the rest.
-- grain, key, columns and checks: transforms/intermediate/_models.toml
with

events as (
    select
        *,
        updated_at is null as is_undated,
        coalesce(event_type ilike '%create%', false) as is_create
    from staging.stg_callback_request_events
    where callback_request_id is not null
),

final as (
    select
        *,
        row_number() over (
            partition by callback_request_id
            order by
                updated_at asc nulls first,
                is_create desc,
                case when is_undated then source_file end asc nulls last,
                case when is_undated then source_position end asc nulls last,
                event_id asc
        ) as event_sequence,
        count(*) over (partition by callback_request_id) as events_count,
        count(*) filter (where is_undated) over (partition by callback_request_id)
            as events_without_timestamp,
        is_closing_status(status) as is_closing
    from events
)

select * from final
