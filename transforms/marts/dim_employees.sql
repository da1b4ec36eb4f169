-- Employees who took part in callback requests, latest version of each.
-- Contact details are left out.
-- grain, key, columns and checks: transforms/marts/_models.toml
with

participants as (
    select p.*, e.updated_at as event_updated_at
    from staging.stg_callback_request_participants as p
    inner join staging.stg_callback_request_events as e using (event_id)
    where p.participant_type = 'EMPLOYEE' and p.employee_id is not null
),

latest as (
    select *
    from participants
    qualify row_number() over (
        partition by employee_id
        order by employee_updated_at desc nulls last, event_updated_at desc nulls last,
            event_id desc, participant_index
    ) = 1
),

final as (
    select
        employee_id as employee_key,
        employee_external_id as external_id,
        employee_first_name as first_name,
        employee_last_name as last_name,
        concat_ws(' ', employee_first_name, employee_last_name) as display_name,
        employee_function as function,
        employee_language as language,
        employee_status as status,
        employee_time_zone as time_zone,
        employee_online_planning as online_planning,
        employee_available_roles as available_roles,
        employee_deleted_at as deleted_at,
        employee_updated_at as updated_at
    from latest
)

select * from final
