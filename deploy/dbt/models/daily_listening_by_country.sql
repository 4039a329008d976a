-- An example model on podpipe's sources: listening users and plays per UTC day and country
-- of known users. Grain: (event_date, country).
SELECT
    f.event_date,
    u.country,
    COUNT(DISTINCT f.user_id) AS listening_users,
    SUM(f.event_type = 'play') AS plays
FROM {{ source('podpipe', 'fact_user_interactions') }} AS f
JOIN {{ source('podpipe', 'dim_users') }} AS u ON u.user_id = f.user_id
WHERE f.event_type IN ('play', 'complete')
GROUP BY f.event_date, u.country
