-- Questionnaire answers of each callback request event, with the question label resolved.
-- grain, key, columns and checks: transforms/staging/_models.toml
with

answers as (
    select * from src_callback_request_events__answers
),

events as (
    select event_id, callback_request_id, event_row_id from staging.stg_callback_request_events
),

-- list aggregates cannot spill to disk, and one per answer outgrew the memory cap at 200k
-- events: most answers select one option, so only answers with several are aggregated, and
-- without `order by` in the aggregate (it keeps a sort per group: past the memory cap at a
-- million events): their (list index, option) pairs are sorted once aggregated
option_counts as (
    select _dlt_parent_id, count(*) as selected_option_count
    from src_callback_request_events__answers__selected_answer_options
    group by 1
),

several_options_unsorted as (
    select
        o._dlt_parent_id as answer_row_id,
        list({'list_index': o._dlt_list_idx, 'value': o.value, 'id': o.id}) as options,
        count(*) as selected_option_count
    from src_callback_request_events__answers__selected_answer_options as o
    semi join option_counts as c
        on c._dlt_parent_id = o._dlt_parent_id and c.selected_option_count > 1
    group by 1
),

several_options as (
    select
        answer_row_id,
        list_transform(list_sort(options), lambda o: o.value) as selected_options,
        list_transform(list_sort(options), lambda o: o.id) as selected_option_ids,
        selected_option_count
    from several_options_unsorted
),

one_option as (
    select
        o._dlt_parent_id as answer_row_id,
        [o.value] as selected_options,
        [o.id] as selected_option_ids,
        1 as selected_option_count
    from src_callback_request_events__answers__selected_answer_options as o
    semi join option_counts as c
        on c._dlt_parent_id = o._dlt_parent_id and c.selected_option_count = 1
),

options as (
    select * from several_options
    union all
    select * from one_option
),

files as (
    select _dlt_parent_id as answer_row_id, count(*) as file_count
    from src_callback_request_events__answers__files
    group by 1
),

labels as (
    select * from staging.stg_display_names where owner = 'question' and field = 'label'
),

final as (
    select
        e.event_id,
        e.callback_request_id,
        a._dlt_list_idx as answer_index,
        a.id as answer_id,
        a.form__id as form_id,
        a.question__id as question_id,
        a.question__external_id as question_external_id,
        a.question__order as question_order,
        labels.display_value as question_label,
        a.answer_type,
        a.value,
        coalesce(options.selected_options, []) as selected_options,
        coalesce(options.selected_option_ids, []) as selected_option_ids,
        coalesce(options.selected_option_count, 0) as selected_option_count,
        coalesce(files.file_count, 0) as file_count,
        a.created_at,
        a.updated_at,
        a._dlt_id as answer_row_id
    from answers as a
    inner join events as e on e.event_row_id = a._dlt_parent_id
    left join options on options.answer_row_id = a._dlt_id
    left join files on files.answer_row_id = a._dlt_id
    left join labels on labels.owner_dlt_id = a._dlt_id
)

select * from final
