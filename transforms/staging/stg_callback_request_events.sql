-- Callback request events, deduplicated by event id, typed, with names resolved.
-- Only event_id and callback_request_id are
-- always present (the spec requires nothing else): every other column may be null.
-- grain, key, columns and checks: transforms/staging/_models.toml
-- The names come in one join on a row per event row (seven joins to stg_display_names held
-- seven hash tables at once: past warehouse.duckdb_memory_limit from 20k events, issue 13).
with

source as (
    select * from src_callback_request_events
),

deduplicated as (
    select *
    from source
    where event_id is not null
    qualify row_number() over (partition by event_id order by _dlt_load_id, _dlt_id) = 1
),

-- the display names of an event row, one column each (stg_display_names has one row per
-- owner_dlt_id, owner and field, so each filter sees at most one value)
names as (
    select
        owner_dlt_id,
        any_value(display_value) filter (where owner = 'office' and field = 'name') as office_name,
        any_value(display_value) filter (where owner = 'office_location' and field = 'city') as office_city,
        any_value(display_value) filter (where owner = 'office_location' and field = 'street1') as office_street,
        any_value(display_value) filter (where owner = 'subject' and field = 'name') as subject_name,
        any_value(display_value) filter (where owner = 'subject_group' and field = 'name') as subject_group_name,
        any_value(display_value) filter (where owner = 'listing' and field = 'name') as listing_name,
        any_value(display_value) filter (where owner = 'listing_location' and field = 'city') as listing_city
    from staging.stg_display_names
    where owner in ('office', 'office_location', 'subject', 'subject_group', 'listing', 'listing_location')
    group by owner_dlt_id
),

final as (
    select
        e.event_id,
        e.correlation_id,
        e.webhook_configuration_id,
        e.version as payload_version,
        e.event_type,
        e.callback_request_id,
        e.external_id,
        e.status,
        e.meeting_type,
        e.created_at,
        e.created_by_id,
        e.created_by_type,
        e.created_from,
        e.updated_at,
        e.updated_by_id,
        e.updated_by_type,
        e.updated_from,
        e.office__id as office_id,
        e.office__external_id as office_external_id,
        names.office_name,
        e.office__active as office_active,
        e.office__virtual as office_virtual,
        e.office__time_zone as office_time_zone,
        e.office__email as office_email,
        e.office__phone_number as office_phone_number,
        names.office_city,
        names.office_street,
        e.office__location__postal_code as office_postal_code,
        e.office__location__country_code as office_country_code,
        e.office__location__geolocation__latitude as office_latitude,
        e.office__location__geolocation__longitude as office_longitude,
        e.office__updated_at as office_updated_at,
        e.office__deleted_at as office_deleted_at,
        e.subject__id as subject_id,
        e.subject__external_id as subject_external_id,
        names.subject_name,
        e.subject__order as subject_order,
        e.subject__updated_at as subject_updated_at,
        e.subject__deleted_at as subject_deleted_at,
        e.subject__subject_group__id as subject_group_id,
        e.subject__subject_group__external_id as subject_group_external_id,
        names.subject_group_name,
        e.subject__subject_group__order as subject_group_order,
        e.subject__subject_group__color as subject_group_color,
        e.subject__subject_group__updated_at as subject_group_updated_at,
        e.listing__id as listing_id,
        e.listing__external_id as listing_external_id,
        names.listing_name,
        e.listing__active as listing_active,
        e.listing__time_zone as listing_time_zone,
        names.listing_city,
        e.listing__location__country_code as listing_country_code,
        e.listing__updated_at as listing_updated_at,
        e.listing__deleted_at as listing_deleted_at,
        e.lead_segment__id as lead_segment_id,
        e.lead_segment__code as lead_segment_code,
        e.lead_segment__description as lead_segment_description,
        e.location__country_code as location_country_code,
        e._source_file as source_file,
        e._source_position as source_position,
        e._dlt_load_id as load_id,
        e._dlt_id as event_row_id
    from deduplicated as e
    left join names on names.owner_dlt_id = e._dlt_id
)

select * from final
