-- Appointments in their current state (latest updatedAt, then event id), linked to their
-- callback request when the link exists and that request is in the warehouse.
-- Like callback requests, an event without a usable updatedAt is undated: it never displaces
-- a dated state, and undated events follow their place in the archive (source file, then
-- position); events_without_timestamp counts them. Appointment events without an appointment
-- id have no row here (they stay in staging.stg_appointment_events; agg_event_quality counts
-- them). callback_request_id is null when the linked request is not in the warehouse (a gap
-- in the archive): callback_request_ref keeps the link as delivered.
-- grain, key, columns and checks: transforms/marts/_models.toml
with

events as (
    select *, updated_at is null as is_undated
    from staging.stg_appointment_events
    where appointment_id is not null
),

counted as (
    select
        *,
        count(*) over (partition by appointment_id) as events_count,
        count(*) filter (where is_undated) over (partition by appointment_id)
            as events_without_timestamp,
        min(coalesce(updated_at, created_at)) over (partition by appointment_id) as first_seen_at
    from events
),

latest as (
    select *
    from counted
    qualify row_number() over (
        partition by appointment_id
        order by
            updated_at desc nulls last,
            case when is_undated then source_file end desc nulls last,
            case when is_undated then source_position end desc nulls last,
            event_id desc
    ) = 1
),

requests as (
    select callback_request_id from marts.fct_callback_requests
),

final as (
    select
        l.appointment_id,
        l.status,
        l.event_type as last_event_type,
        l.message as last_message,
        l.meeting_type,
        l.starts_at,
        l.ends_at,
        l.office_id,
        l.subject_id,
        l.created_at,
        l.updated_at,
        requests.callback_request_id,
        l.callback_request_ref,
        l.events_count,
        l.events_without_timestamp,
        l.first_seen_at
    from latest as l
    left join requests on requests.callback_request_id = l.callback_request_ref
)

select * from final
