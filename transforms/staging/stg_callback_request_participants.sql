-- Participants of each callback request event: employees and customers.
-- grain, key, columns and checks: transforms/staging/_models.toml
with

participants as (
    select * from src_callback_request_events__participants
),

events as (
    select event_id, callback_request_id, event_row_id from staging.stg_callback_request_events
),

-- an employee's roles as a list in list order. List aggregates cannot spill to disk, and an
-- ordered one keeps a sort per group: past the memory cap at a million events. So only
-- participants with several roles are aggregated, without `order by`: their (list index,
-- role) pairs are sorted once aggregated
role_counts as (
    select _dlt_parent_id, count(*) as roles_count
    from src_callback_request_events__participants__employee__available_roles
    group by 1
),

several_roles as (
    select
        r._dlt_parent_id as participant_row_id,
        list_transform(
            list_sort(list({'list_index': r._dlt_list_idx, 'value': r.value})),
            lambda role: role.value
        ) as available_roles
    from src_callback_request_events__participants__employee__available_roles as r
    semi join role_counts as c on c._dlt_parent_id = r._dlt_parent_id and c.roles_count > 1
    group by 1
),

one_role as (
    select r._dlt_parent_id as participant_row_id, [r.value] as available_roles
    from src_callback_request_events__participants__employee__available_roles as r
    semi join role_counts as c on c._dlt_parent_id = r._dlt_parent_id and c.roles_count = 1
),

roles as (
    select * from several_roles
    union all
    select * from one_role
),

-- one CTE per translated field: a CTE read twice is materialized whole (all of
-- stg_display_names)
employee_functions as (
    select owner_dlt_id, display_value
    from staging.stg_display_names
    where owner = 'employee' and field = 'function'
),

customer_cities as (
    select owner_dlt_id, display_value
    from staging.stg_display_names
    where owner = 'customer_location' and field = 'city'
),

final as (
    select
        e.event_id,
        e.callback_request_id,
        p._dlt_list_idx as participant_index,
        upper(p.role) as role,
        upper(p.type) as participant_type,
        p.created_at,
        p.employee__id as employee_id,
        p.employee__external_id as employee_external_id,
        p.employee__first_name as employee_first_name,
        p.employee__last_name as employee_last_name,
        employee_function.display_value as employee_function,
        p.employee__language as employee_language,
        p.employee__status as employee_status,
        p.employee__time_zone as employee_time_zone,
        p.employee__online_planning as employee_online_planning,
        roles.available_roles as employee_available_roles,
        p.employee__updated_at as employee_updated_at,
        p.employee__deleted_at as employee_deleted_at,
        p.customer__id as customer_id,
        p.customer__existing as customer_existing,
        p.customer__language as customer_language,
        p.customer__time_zone as customer_time_zone,
        p.customer__location__country_code as customer_country_code,
        customer_city.display_value as customer_city,
        p._dlt_id as participant_row_id
    from participants as p
    inner join events as e on e.event_row_id = p._dlt_parent_id
    left join roles on roles.participant_row_id = p._dlt_id
    left join employee_functions as employee_function on employee_function.owner_dlt_id = p._dlt_id
    left join customer_cities as customer_city on customer_city.owner_dlt_id = p._dlt_id
)

select * from final
