-- Customers, identified only by a pseudonymous key (keyed hash of the customer id).
-- No names, emails, phone numbers or customer numbers.
-- grain, key, columns and checks: transforms/marts/_models.toml
with

participants as (
    select p.*, e.updated_at as event_updated_at
    from staging.stg_callback_request_participants as p
    inner join staging.stg_callback_request_events as e using (event_id)
    where p.participant_type = 'CUSTOMER' and p.customer_id is not null
),

activity as (
    select
        customer_id,
        min(event_updated_at) as first_seen_at,
        max(event_updated_at) as last_seen_at,
        count(distinct callback_request_id) as callback_requests_count
    from participants
    group by 1
),

latest as (
    select *
    from participants
    qualify row_number() over (
        partition by customer_id
        order by event_updated_at desc nulls last, event_id desc, participant_index
    ) = 1
),

final as (
    select
        pseudonymize(l.customer_id) as customer_key,
        l.customer_language as language,
        l.customer_existing as existing,
        l.customer_country_code as country_code,
        l.customer_city as city,
        l.customer_time_zone as time_zone,
        a.first_seen_at,
        a.last_seen_at,
        a.callback_requests_count
    from latest as l
    inner join activity as a using (customer_id)
)

select * from final
