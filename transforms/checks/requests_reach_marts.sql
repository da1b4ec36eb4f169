-- every callback request of staging has exactly one row in fct_callback_requests, and
-- every appointment one row in fct_appointments
select 'fct_callback_requests' as mart, expected, actual
from
    (select count(distinct callback_request_id) as expected from staging.stg_callback_request_events),
    (select count(*) as actual from marts.fct_callback_requests)
where expected <> actual
union all
select 'fct_appointments', expected, actual
from
    (select count(distinct appointment_id) as expected from staging.stg_appointment_events),
    (select count(*) as actual from marts.fct_appointments)
where expected <> actual
