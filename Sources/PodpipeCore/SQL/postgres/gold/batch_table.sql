-- batch_table — the temporary table refresh_batch fills and refresh_events reads (one per
-- refresh transaction, dropped at its end). Grain: one (day, user_id, episode_id) of the
-- batch; old_listened is filled by refresh_events (gold's listened before the batch, NULL
-- for a new key).
CREATE TEMP TABLE gold_tmp_triple (
    day                   bigint NOT NULL,
    user_id               text COLLATE "C" NOT NULL,
    episode_id            text COLLATE "C" NOT NULL,
    events                bigint NOT NULL,
    plays                 bigint NOT NULL,
    pauses                bigint NOT NULL,
    seeks                 bigint NOT NULL,
    completions           bigint NOT NULL,
    complete_duration_sum bigint NOT NULL,
    listened              bigint NOT NULL,
    old_listened          bigint,
    PRIMARY KEY (day, user_id, episode_id)
) ON COMMIT DROP
