-- Appointment events, deduplicated by event id, typed.
-- Every event of raw is here, also those
-- without an appointment or without its id (appointment_id null: the spec requires only the
-- envelope); fct_appointments leaves those out and agg_event_quality counts them.
-- grain, key, columns and checks: transforms/staging/_models.toml
with

source as (
    select * from src_appointment_events
),

deduplicated as (
    select *
    from source
    where event_id is not null
    qualify row_number() over (partition by event_id order by _dlt_load_id, _dlt_id) = 1
),

final as (
    select
        event_id,
        correlation_id,
        event_type,
        message,
        appointment_id,
        status,
        meeting_type,
        start_date as starts_at,
        end_date as ends_at,
        created_at,
        updated_at,
        callback_request__id as callback_request_ref,
        office__id as office_id,
        subject__id as subject_id,
        _source_file as source_file,
        _source_position as source_position,
        _dlt_load_id as load_id
    from deduplicated
)

select * from final
