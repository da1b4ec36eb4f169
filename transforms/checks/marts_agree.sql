-- the marts tell the same story: answers and events per request, daily volumes
select 'answers_count' as measure, expected, actual
from
    (select coalesce(sum(answers_count), 0) as expected from marts.fct_callback_requests),
    (select count(*) as actual from marts.fct_callback_request_answers)
where expected <> actual
union all
select 'events_count', expected, actual
from
    (select coalesce(sum(events_count), 0) as expected from marts.fct_callback_requests),
    (select count(*) as actual from staging.stg_callback_request_events where callback_request_id is not null)
where expected <> actual
union all
select 'daily_created', expected, actual
from
    (select count(*) as expected from marts.fct_callback_requests where created_at is not null),
    (select coalesce(sum(created), 0) as actual from marts.agg_callback_requests_daily)
where expected <> actual
union all
select 'daily_closed', expected, actual
from
    (select count(*) as expected from marts.fct_callback_requests where closed_at is not null and created_at is not null),
    (select coalesce(sum(closed), 0) as actual from marts.agg_callback_requests_daily)
where expected <> actual
