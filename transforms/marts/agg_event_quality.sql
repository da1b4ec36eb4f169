-- How complete the events are, per entity: the spec requires only the envelope and the
-- payload's id, so events may lack what the marts would like to have. Nothing here is an
-- error; it says how many rows of the other marts rest on partial events.
-- events: distinct events in staging; objects: distinct callback requests / appointments
-- (rows of fct_callback_requests / fct_appointments); events_without_id: events whose payload
-- has no id (appointments only: such events stay in staging, no fct row);
-- events_without_timestamp: events with an id but no usable updatedAt (ordered by their place
-- in the archive); events_without_any_timestamp: of those, the ones without a usable
-- createdAt either.
-- grain, key, columns and checks: transforms/marts/_models.toml
with

callback_requests as (
    select callback_request_id as object_id, updated_at, created_at
    from staging.stg_callback_request_events
),

appointments as (
    select appointment_id as object_id, updated_at, created_at
    from staging.stg_appointment_events
),

events as (
    select 'Callback Request' as entity, * from callback_requests
    union all
    select 'Appointment' as entity, * from appointments
),

entities as (
    select * from (values ('Callback Request'), ('Appointment')) as v(entity)
),

counts as (
    select
        entity,
        count(*) as events,
        count(distinct object_id) as objects,
        count(*) filter (where object_id is null) as events_without_id,
        count(*) filter (where object_id is not null and updated_at is null)
            as events_without_timestamp,
        count(*) filter (where object_id is not null and updated_at is null and created_at is null)
            as events_without_any_timestamp
    from events
    group by 1
),

final as (
    select
        entities.entity,
        coalesce(counts.events, 0) as events,
        coalesce(counts.objects, 0) as objects,
        coalesce(counts.events_without_id, 0) as events_without_id,
        coalesce(counts.events_without_timestamp, 0) as events_without_timestamp,
        coalesce(counts.events_without_any_timestamp, 0) as events_without_any_timestamp
    from entities
    left join counts using (entity)
)

select * from final
