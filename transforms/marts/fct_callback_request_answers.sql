-- One row per questionnaire answer of a callback request, in its current state.
-- grain, key, columns and checks: transforms/marts/_models.toml
with

current_state as (
    select event_id from intermediate.int_callback_requests_current
),

answers as (
    select * from staging.stg_callback_request_answers
),

final as (
    select
        a.callback_request_id,
        a.answer_index,
        a.answer_id,
        a.question_id,
        a.question_external_id,
        a.question_label,
        a.question_order,
        a.answer_type,
        a.value,
        a.selected_options,
        array_to_string(a.selected_options, ', ') as selected_options_text,
        a.selected_option_count,
        a.file_count,
        a.form_id,
        a.updated_at
    from answers as a
    inner join current_state as c on c.event_id = a.event_id
)

select * from final
