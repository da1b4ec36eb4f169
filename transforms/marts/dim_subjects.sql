-- Subjects with their subject group, latest version of each.
-- grain, key, columns and checks: transforms/marts/_models.toml
with

events as (
    select * from staging.stg_callback_request_events where subject_id is not null
),

latest as (
    select *
    from events
    qualify row_number() over (
        partition by subject_id
        order by subject_updated_at desc nulls last, updated_at desc nulls last, event_id desc
    ) = 1
),

final as (
    select
        subject_id,
        subject_external_id as external_id,
        subject_name as name,
        subject_order as sort_order,
        subject_group_id,
        subject_group_external_id,
        subject_group_name,
        subject_group_order,
        subject_group_color,
        subject_deleted_at as deleted_at,
        subject_updated_at as updated_at
    from latest
)

select * from final
