-- Offices, latest version of each (by the office's own updatedAt, then the event's).
-- grain, key, columns and checks: transforms/marts/_models.toml
with

events as (
    select * from staging.stg_callback_request_events where office_id is not null
),

latest as (
    select *
    from events
    qualify row_number() over (
        partition by office_id
        order by office_updated_at desc nulls last, updated_at desc nulls last, event_id desc
    ) = 1
),

final as (
    select
        office_id,
        office_external_id as external_id,
        office_name as name,
        office_city as city,
        office_street as street,
        office_postal_code as postal_code,
        office_country_code as country_code,
        office_latitude as latitude,
        office_longitude as longitude,
        office_time_zone as time_zone,
        office_active as active,
        office_virtual as virtual,
        office_email as email,
        office_phone_number as phone_number,
        office_deleted_at as deleted_at,
        office_updated_at as updated_at
    from latest
)

select * from final
