-- Daily volumes per office x subject x meeting type (days in UTC).
-- created: requests created that day; closed: requests whose first closing status was seen
-- that day; open_at_end_of_day: created so far minus closed so far;
-- median_time_to_close_hours: over the requests closed that day. Days run from the first
-- creation (or closing) to the last activity seen in the data, every calendar day, except
-- that a stretch of more than 31 days without any activity at all is cut after its first 31
-- days (nothing changes in it: open_at_end_of_day stays as on its last listed day).
-- Requests without a createdAt (optional in the spec) have no day: they are left out here
-- and counted in fct_callback_requests (created_at null).
-- grain, key, columns and checks: transforms/marts/_models.toml
with

requests as (
    select
        office_id,
        subject_id,
        meeting_type,
        cast(created_at as date) as created_day,
        cast(closed_at as date) as closed_day,
        cast(last_seen_at as date) as last_seen_day,
        time_to_close_hours
    from marts.fct_callback_requests
    where created_at is not null
),

activity_days as (
    -- every day something happened: a creation, a first closing, the last event of a request.
    -- A closing event may carry an updatedAt before the request's createdAt (the spec does not
    -- forbid it): its day is on the spine too.
    select created_day as day from requests
    union
    select closed_day from requests where closed_day is not null
    union
    select last_seen_day from requests where last_seen_day is not null
),

days as (
    -- every calendar day from the first to the last activity day, except inside a stretch of
    -- more than 31 days without any activity: only its first 31 days are listed. Timestamps are
    -- free text in the spec (a createdAt of 0001-01-01 is valid): a day per calendar day over
    -- millennia, times every group, would not fit in memory
    select distinct a.day + cast(k.step as integer) as day
    from activity_days as a
    cross join range(0, 32) as k(step)
    where a.day + cast(k.step as integer) <= (select max(day) from activity_days)
),

groups as (
    select distinct office_id, subject_id, meeting_type from requests
),

created as (
    select created_day as day, office_id, subject_id, meeting_type, count(*) as created
    from requests
    group by all
),

closed as (
    select
        closed_day as day,
        office_id,
        subject_id,
        meeting_type,
        count(*) as closed,
        median(time_to_close_hours) as median_time_to_close_hours
    from requests
    where closed_day is not null
    group by all
),

spine as (
    select days.day, groups.office_id, groups.subject_id, groups.meeting_type
    from days
    cross join groups
),

daily as (
    select
        spine.day,
        spine.office_id,
        spine.subject_id,
        spine.meeting_type,
        coalesce(created.created, 0) as created,
        coalesce(closed.closed, 0) as closed,
        closed.median_time_to_close_hours
    from spine
    left join created
        on created.day = spine.day
        and created.office_id is not distinct from spine.office_id
        and created.subject_id is not distinct from spine.subject_id
        and created.meeting_type is not distinct from spine.meeting_type
    left join closed
        on closed.day = spine.day
        and closed.office_id is not distinct from spine.office_id
        and closed.subject_id is not distinct from spine.subject_id
        and closed.meeting_type is not distinct from spine.meeting_type
),

running as (
    select
        *,
        sum(created - closed) over (
            partition by office_id, subject_id, meeting_type
            order by day
            rows between unbounded preceding and current row
        ) as open_at_end_of_day
    from daily
),

final as (
    select
        day,
        office_id,
        subject_id,
        meeting_type,
        created,
        closed,
        cast(open_at_end_of_day as bigint) as open_at_end_of_day,
        median_time_to_close_hours
    from running
    where created > 0 or closed > 0 or open_at_end_of_day > 0
)

select * from final
