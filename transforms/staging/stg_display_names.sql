-- One display value per translated field, chosen by the configured language preference
-- (warehouse.language_preference), then any available language, deterministically:
-- preferred rank, then language code, then position in the list.
-- grain, key, columns and checks: transforms/staging/_models.toml
with

translations as (
    select * from staging.stg_translations
),

ranked as (
    select
        *,
        row_number() over (
            partition by owner_dlt_id, owner, field
            order by language_rank, language, list_index, value
        ) as choice
    from translations
),

final as (
    select
        owner_dlt_id,
        owner,
        field,
        value as display_value,
        language as display_language
    from ranked
    where choice = 1
)

select * from final
