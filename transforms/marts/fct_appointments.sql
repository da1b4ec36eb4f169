-- Appointments in their current state (latest updatedAt, then event id), linked to their
-- callback request when the link exists and that request is in the warehouse.
-- Keys: appointment_id unique; callback_request_id -> fct_callback_requests (nullable)
with

events as (
    select * from staging.stg_appointment_events where appointment_id is not null
),

counted as (
    select
        *,
        count(*) over (partition by appointment_id) as events_count,
        min(coalesce(updated_at, created_at)) over (partition by appointment_id) as first_seen_at
    from events
),

latest as (
    select *
    from counted
    qualify row_number() over (
        partition by appointment_id order by updated_at desc nulls last, event_id desc
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
        l.first_seen_at
    from latest as l
    left join requests on requests.callback_request_id = l.callback_request_ref
)

select * from final
