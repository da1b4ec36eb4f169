-- events without a usable updatedAt are counted once, the same in every mart, and a request
-- or appointment lacks first_seen_at only when none of its events carries a timestamp
select 'fct_callback_requests.events_without_timestamp' as measure, expected, actual
from
    (select count(*) as expected from staging.stg_callback_request_events where updated_at is null),
    (select coalesce(sum(events_without_timestamp), 0) as actual from marts.fct_callback_requests)
where expected <> actual
union all
select 'fct_appointments.events_without_timestamp', expected, actual
from
    (
        select count(*) as expected from staging.stg_appointment_events
        where updated_at is null and appointment_id is not null
    ),
    (select coalesce(sum(events_without_timestamp), 0) as actual from marts.fct_appointments)
where expected <> actual
union all
select 'agg_event_quality.events_without_timestamp', expected, actual
from
    (
        select
            (select coalesce(sum(events_without_timestamp), 0) from marts.fct_callback_requests)
            + (select coalesce(sum(events_without_timestamp), 0) from marts.fct_appointments)
            as expected
    ),
    (select sum(events_without_timestamp) as actual from marts.agg_event_quality)
where expected <> actual
union all
select 'agg_event_quality.objects', expected, actual
from
    (
        select
            (select count(*) from marts.fct_callback_requests)
            + (select count(*) from marts.fct_appointments) as expected
    ),
    (select sum(objects) as actual from marts.agg_event_quality)
where expected <> actual
union all
select 'fct_callback_requests.first_seen_at', expected, actual
from
    (
        select count(distinct callback_request_id) as expected
        from staging.stg_callback_request_events
        where coalesce(updated_at, created_at) is not null
    ),
    (select count(first_seen_at) as actual from marts.fct_callback_requests)
where expected <> actual
