-- Listings with their tags, latest version of each.
-- grain, key, columns and checks: transforms/marts/_models.toml
with

events as (
    select * from staging.stg_callback_request_events where listing_id is not null
),

latest as (
    select *
    from events
    qualify row_number() over (
        partition by listing_id
        order by listing_updated_at desc nulls last, updated_at desc nulls last, event_id desc
    ) = 1
),

-- the tags of the latest events only: a list aggregate cannot spill to disk, one per event
-- row would grow with the warehouse
tags as (
    select t._dlt_parent_id as event_row_id, list(t.value order by t._dlt_list_idx) as tags
    from src_callback_request_events__listing__tags as t
    semi join latest as l on l.event_row_id = t._dlt_parent_id
    group by 1
),

final as (
    select
        l.listing_id,
        l.listing_external_id as external_id,
        l.listing_name as name,
        l.listing_city as city,
        l.listing_country_code as country_code,
        l.listing_active as active,
        l.listing_time_zone as time_zone,
        coalesce(tags.tags, []) as tags,
        l.listing_deleted_at as deleted_at,
        l.listing_updated_at as updated_at
    from latest as l
    left join tags on tags.event_row_id = l.event_row_id
)

select * from final
