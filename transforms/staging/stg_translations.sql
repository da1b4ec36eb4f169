-- Every translation of every translated field, gathered in one place.
-- owner_dlt_id is the raw row that holds the translated object: the event row for
-- subject/office/listing/location, the participant row for employee/customer, the answer
-- row for questions. Raw stores each distinct translations object once, in translation_sets
-- (one child table per field); the owner row holds its `<object>__translations_key`.
-- Events loaded before that layout keep their translations inline, in one raw child table
-- per translated field (`callback_request_events__office__translations__name`, ...): they
-- are read too, so a warehouse needs no reload after the upgrade.
-- grain, key, columns and checks: transforms/staging/_models.toml
with

inline_translations as (
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

owners as (
    select _dlt_id as owner_dlt_id, 'subject' as owner, ['name', 'description'] as fields, subject__translations_key as translations_key from src_callback_request_events
    union all
    select _dlt_id, 'subject_group', ['name'], subject__subject_group__translations_key from src_callback_request_events
    union all
    select _dlt_id, 'office', ['name', 'description'], office__translations_key from src_callback_request_events
    union all
    select _dlt_id, 'office_location', ['city', 'street1'], office__location__translations_key from src_callback_request_events
    union all
    select _dlt_id, 'listing', ['name', 'description'], listing__translations_key from src_callback_request_events
    union all
    select _dlt_id, 'listing_location', ['city'], listing__location__translations_key from src_callback_request_events
    union all
    select _dlt_id, 'location', ['city'], location__translations_key from src_callback_request_events
    union all
    select _dlt_id, 'employee', ['function'], employee__translations_key from src_callback_request_events__participants
    union all
    select _dlt_id, 'customer_location', ['city'], customer__location__translations_key from src_callback_request_events__participants
    union all
    select _dlt_id, 'question', ['label'], question__translations_key from src_callback_request_events__answers
),

set_translations as (
    select 'name' as field, * from src_translation_sets__name
    union all by name
    select 'description' as field, * from src_translation_sets__description
    union all by name
    select 'city' as field, * from src_translation_sets__city
    union all by name
    select 'street1' as field, * from src_translation_sets__street1
    union all by name
    select 'function' as field, * from src_translation_sets__function
    union all by name
    select 'label' as field, * from src_translation_sets__label
),

keyed_translations as (
    select
        owners.owner_dlt_id,
        owners.owner,
        set_translations.field,
        set_translations._dlt_list_idx,
        set_translations.language,
        set_translations.value
    from owners
    inner join src_translation_sets as sets
        on sets.translations_key = owners.translations_key
    inner join set_translations
        on set_translations._dlt_parent_id = sets._dlt_id
        and list_contains(owners.fields, set_translations.field)
),

translations as (
    select * from keyed_translations
    union all by name
    select _dlt_parent_id as owner_dlt_id, * exclude (_dlt_parent_id) from inline_translations
),

final as (
    select
        owner_dlt_id,
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
