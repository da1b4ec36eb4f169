-- Every translation of every translated field, gathered in one place.
-- owner_dlt_id is the raw row that holds the translated object: the event row for
-- subject/office/listing/location, the participant row for employee/customer, the answer
-- row for questions.
-- grain, key, columns and checks: transforms/staging/_models.toml
with

translations as (
    select 'subject' as owner, 'name' as field, * from src_callback_request_events__subject__translations__name
    union all by name
    select 'subject' as owner, 'description' as field, * from src_callback_request_events__subject__translations__description
    union all by name
    select 'subject_group' as owner, 'name' as field, * from src_callback_request_events__subject__subject_group__translations__name
    union all by name
    select 'office' as owner, 'name' as field, * from src_callback_request_events__office__translations__name
    union all by name
    select 'office' as owner, 'description' as field, * from src_callback_request_events__office__translations__description
    union all by name
    select 'office_location' as owner, 'city' as field, * from src_callback_request_events__office__location__translations__city
    union all by name
    select 'office_location' as owner, 'street1' as field, * from src_callback_request_events__office__location__translations__street1
    union all by name
    select 'listing' as owner, 'name' as field, * from src_callback_request_events__listing__translations__name
    union all by name
    select 'listing' as owner, 'description' as field, * from src_callback_request_events__listing__translations__description
    union all by name
    select 'listing_location' as owner, 'city' as field, * from src_callback_request_events__listing__location__translations__city
    union all by name
    select 'location' as owner, 'city' as field, * from src_callback_request_events__location__translations__city
    union all by name
    select 'employee' as owner, 'function' as field, * from src_callback_request_events__participants__employee__translations__function
    union all by name
    select 'customer_location' as owner, 'city' as field, * from src_callback_request_events__participants__customer__location__translations__city
    union all by name
    select 'question' as owner, 'label' as field, * from src_callback_request_events__answers__question__translations__label
),

final as (
    select
        _dlt_parent_id as owner_dlt_id,
        owner,
        field,
        _dlt_list_idx as list_index,
        lower(trim(language)) as language,
        value,
        language_rank(lower(trim(language))) as language_rank
    from translations
    where value is not null and value <> ''
)

select * from final
