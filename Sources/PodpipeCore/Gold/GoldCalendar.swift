import GRDB

extension GoldRefresher {
    /// Fits dim_date to every day the fact and the dims use: from the earliest to the latest
    /// of the event days and the reference dates (`SQL/gold/dim_date_span.sql`), no gaps.
    /// Run after a refresh that reconciled reference data (every full rebuild, an incremental
    /// one after a users or episodes file): a reference change may widen the span or narrow
    /// it (a corrected signup date), so the days outside are removed and the missing ones
    /// generated (`refresh_30_dim_date`). Event days only grow between full rebuilds, which
    /// the incremental path extends for as before; so both paths give the same calendar.
    static func fitCalendar(_ db: Database) throws {
        let events = try span(db, allEvents: 0)
        let reference = try Row.fetchOne(db, sql: try SQLResource.load("gold", "dim_date_span"))
        let los = [events.firstDay, reference?["lo_day"] as Int64?].compactMap { $0 }
        let his = [events.lastDay, reference?["hi_day"] as Int64?].compactMap { $0 }
        guard let lo = los.min(), let hi = his.max() else {
            try db.execute(sql: "DELETE FROM dim_date")
            return
        }
        try db.execute(
            sql: "DELETE FROM dim_date WHERE day_number < ? OR day_number > ?", arguments: [lo, hi])
        try extendCalendar(db, Span(count: 0, firstDay: lo, lastDay: hi))
    }
}
