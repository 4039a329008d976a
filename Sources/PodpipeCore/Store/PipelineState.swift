import GRDB

/// The keys of `pipeline_state`: what the ingest tells gold about silver, and what gold
/// records of its own refreshes.
enum PipelineStateKey: String, Sendable, CaseIterable, DatabaseValueConvertible {
    // Written by the ingest and the maintenance commands.
    /// Bumped when silver is rebuilt or files are forgotten: gold rebuilds in full.
    case silverGeneration = "silver.generation"
    /// Bumped when reference rows change: gold re-derives what depends on them.
    case silverReferenceVersion = "silver.reference_version"
    /// When silver last changed (ISO 8601 UTC).
    case silverLastChangeAt = "silver.last_change_at"
    /// When the writer last completed a pass over the folder (ISO 8601 UTC): `podpiped
    /// --once` at its end, the daemon with its heartbeat (health and metrics read it).
    case lastPassAt = "ingest.last_pass_at"
    // Owned by gold.
    case goldWatermark = "gold.watermark_event_id"
    case goldSeenGeneration = "gold.seen_generation"
    case goldSeenReferenceVersion = "gold.seen_reference_version"
    case goldRefreshedAt = "gold.refreshed_at"
    case goldLastMode = "gold.last_mode"
    case goldLastNewEvents = "gold.last_new_events"
    case goldLastDurationMs = "gold.last_duration_ms"
    /// The SHA-256 of the `podpipe_catalog` rows installed (``Catalog``).
    case catalogDigest = "catalog.sha256"
}

/// Reads and writes `pipeline_state`.
enum PipelineState {
    static func get(_ key: PipelineStateKey, _ db: Database) throws -> String? {
        try String.fetchOne(
            db, sql: "SELECT value FROM pipeline_state WHERE key = ?", arguments: [key.rawValue])
    }

    static func set(_ key: PipelineStateKey, _ value: String?, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO pipeline_state (key, value) VALUES (?, ?)
                ON CONFLICT (key) DO UPDATE SET value = excluded.value
                """, arguments: [key.rawValue, value])
    }

    static func increment(_ key: PipelineStateKey, _ db: Database) throws {
        let current = Int64(try get(key, db) ?? "0") ?? 0
        try set(key, String(current &+ 1), db)
    }
}
