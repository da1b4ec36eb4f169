-- every distinct event id in raw appears exactly once in staging
select 'callback_request_events' as raw_table, raw_count, staging_count
from
    (select count(distinct event_id) as raw_count from src_callback_request_events),
    (select count(*) as staging_count from staging.stg_callback_request_events)
where raw_count <> staging_count
union all
select 'appointment_events', raw_count, staging_count
from
    (select count(distinct event_id) as raw_count from src_appointment_events),
    (select count(*) as staging_count from staging.stg_appointment_events)
where raw_count <> staging_count
