-- One row per callback request, in its current state (the event with the latest updatedAt;
-- see int_callback_request_events_ordered for events without one). Every request that
-- reached staging has a row, even one whose events carry nothing but its id: columns whose
-- value is unknown are null; events_without_timestamp counts its events without a usable
-- updatedAt, and first_seen_at is null when none of its events carries any timestamp.
-- closed_at is the first time a closing status (warehouse.closing_statuses) was seen.
-- grain, key, columns and checks: transforms/marts/_models.toml
with

current_state as (
    select * from intermediate.int_callback_requests_current
),

-- only the participants and answers of each request's current event are counted and ranked
current_events as (
    select event_id from intermediate.int_callback_requests_current
),

participants as (
    select p.*
    from staging.stg_callback_request_participants as p
    semi join current_events as c on c.event_id = p.event_id
),

answers as (
    select a.event_id, count(*) as answers_count
    from staging.stg_callback_request_answers as a
    semi join current_events as c on c.event_id = a.event_id
    group by 1
),

participant_counts as (
    select event_id, count(*) as participants_count from participants group by 1
),

assigned_employee as (
    select event_id, employee_id
    from participants
    where participant_type = 'EMPLOYEE' and employee_id is not null
    qualify row_number() over (
        partition by event_id order by (role = 'PRIMARY') desc, participant_index
    ) = 1
),

primary_customer as (
    select event_id, customer_id
    from participants
    where participant_type = 'CUSTOMER' and customer_id is not null
    qualify row_number() over (
        partition by event_id order by (role = 'PRIMARY') desc, participant_index
    ) = 1
),

final as (
    select
        c.callback_request_id,
        c.external_id,
        c.status,
        c.meeting_type,
        c.office_id,
        c.office_name,
        c.subject_id,
        c.subject_name,
        c.subject_group_id,
        c.subject_group_name,
        c.listing_id,
        c.listing_name,
        c.lead_segment_id,
        c.lead_segment_code,
        coalesce(c.created_at, c.first_created_at) as created_at,
        c.updated_at,
        c.created_from,
        c.event_type as last_event_type,
        c.event_id as last_event_id,
        coalesce(participant_counts.participants_count, 0) as participants_count,
        coalesce(answers.answers_count, 0) as answers_count,
        c.events_count,
        c.events_without_timestamp,
        c.first_seen_at,
        c.last_seen_at,
        assigned_employee.employee_id as employee_key,
        pseudonymize(primary_customer.customer_id) as customer_key,
        c.is_closing as is_closed,
        c.closed_at,
        case when c.closed_at is not null
            then date_diff('second', coalesce(c.created_at, c.first_created_at), c.closed_at)
        end as time_to_close_seconds,
        case when c.closed_at is not null
            then round(date_diff('second', coalesce(c.created_at, c.first_created_at), c.closed_at) / 3600.0, 2)
        end as time_to_close_hours
    from current_state as c
    left join participant_counts on participant_counts.event_id = c.event_id
    left join answers on answers.event_id = c.event_id
    left join assigned_employee on assigned_employee.event_id = c.event_id
    left join primary_customer on primary_customer.event_id = c.event_id
)

select * from final
