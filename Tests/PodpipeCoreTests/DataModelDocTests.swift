import Foundation
import GRDB
import Testing

@testable import PodpipeCore

// doc/data-model.md against the schema of a fresh database: every table, view and column is
// documented there, and what is generated from it (the podpipe_catalog rows, the Datasette
// metadata) is current. `PODPIPE_UPDATE_CATALOG=1` (scripts/update-catalog.sh) rewrites the
// generated files instead of failing on them.

/// The tables and views of a fresh migrated database and their columns (name, declared type).
struct SchemaObjects {
    struct Object {
        var kind: String
        var sql: String
        var columns: [(name: String, type: String)]
    }
    var objects: [String: Object] = [:]

    static func read(_ db: Database) throws -> SchemaObjects {
        var schema = SchemaObjects()
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT type, name, sql FROM sqlite_master
                WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
                """)
        for row in rows {
            let name: String = row["name"]
            let columns = try Row.fetchAll(
                db, sql: "SELECT name, type FROM pragma_table_info(?) ORDER BY cid", arguments: [name]
            ).map { (name: $0["name"] as String, type: $0["type"] as String) }
            schema.objects[name] = Object(kind: row["type"], sql: row["sql"] ?? "", columns: columns)
        }
        return schema
    }

    /// Reads the schema of a fresh database as the writer creates it.
    static func fresh() throws -> SchemaObjects {
        let folder = try TemporaryFolder("data-model")
        defer { folder.remove() }
        let store = try folder.store()
        return try store.pool.read { db in try read(db) }
    }
}

/// A value as plain text (NULL as `NULL`), to compare rows of different queries.
func plain(_ value: DatabaseValue) -> String {
    switch value.storage {
    case .null: "NULL"
    case .int64(let number): "\(number)"
    case .double(let number): "\(number)"
    case .string(let text): text
    case .blob(let data): "blob of \(data.count) bytes"
    }
}

func plain(_ value: ReportValue) -> String {
    switch value {
    case .null: "NULL"
    case .integer(let number): "\(number)"
    case .real(let number, _): "\(number)"
    case .text(let text): text
    }
}

/// INT (what SQLite 3.41+ reports for `CAST(… AS INTEGER)`) is INTEGER.
private func normalizedType(_ type: String) -> String {
    let upper = type.uppercased()
    return upper == "INT" ? "INTEGER" : upper
}

/// Every difference between the doc and the schema, one sentence each.
func dataModelDrift(_ doc: DataModelDoc, _ schema: SchemaObjects) -> [String] {
    var drift = doc.problems
    for (name, object) in schema.objects.sorted(by: { $0.key < $1.key }) {
        guard let documented = doc.objects.first(where: { $0.name == name }) else {
            drift.append("\(object.kind) \(name) is not documented in doc/data-model.md")
            continue
        }
        if documented.kind.rawValue != object.kind {
            drift.append("\(name) is a \(object.kind), the doc says \(documented.kind.rawValue)")
        }
        for column in object.columns {
            guard let entry = documented.columns.first(where: { $0.name == column.name }) else {
                drift.append("column \(name).\(column.name) is not documented in doc/data-model.md")
                continue
            }
            if !column.type.isEmpty, normalizedType(column.type) != normalizedType(entry.type) {
                drift.append("column \(name).\(column.name) is \(column.type), the doc says \(entry.type)")
            }
        }
        for entry in documented.columns where !object.columns.contains(where: { $0.name == entry.name }) {
            drift.append("column \(name).\(entry.name) is documented but does not exist")
        }
    }
    for object in doc.objects where schema.objects[object.name] == nil {
        drift.append("\(object.name) is documented but does not exist")
    }
    return drift
}

/// Writes `text` to the repository file when asked to (`PODPIPE_UPDATE_CATALOG=1`), else
/// expects the file to hold it already.
private func expectGenerated(
    _ relativePath: String, _ text: String, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let url = DataModelDoc.url(relativePath)
    if ProcessInfo.processInfo.environment["PODPIPE_UPDATE_CATALOG"] == "1" {
        try text.write(to: url, atomically: true, encoding: .utf8)
        return
    }
    let current = try? String(contentsOf: url, encoding: .utf8)
    #expect(
        current == text,
        "\(relativePath) is older than doc/data-model.md: run scripts/update-catalog.sh",
        sourceLocation: sourceLocation)
}

/// The Datasette metadata as regenerated from the doc and the file's own keys.
private func regeneratedMetadata(_ doc: DataModelDoc) throws -> [String: Any] {
    let data = try Data(contentsOf: DataModelDoc.url(DataModelDoc.metadataPath))
    let file = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let model = try SQLResource.load("gold", "gold_top_episodes_7d")
    return doc.datasetteMetadata(from: file, topEpisodesModel: model)
}

private func cannedQueries(_ metadata: [String: Any]) -> [String: String] {
    let databases = metadata["databases"] as? [String: Any]
    let database = databases?[DataModelDoc.datasetteDatabase] as? [String: Any]
    let queries = database?["queries"] as? [String: Any] ?? [:]
    return queries.compactMapValues { ($0 as? [String: Any])?["sql"] as? String }
}

@Suite("Data model documentation")
struct DataModelDocTests {
    @Test("every table, view and column of a fresh database is in doc/data-model.md, with its type")
    func docMatchesSchema() throws {
        let doc = try DataModelDoc.load()
        let schema = try SchemaObjects.fresh()
        let drift = dataModelDrift(doc, schema)
        #expect(drift.isEmpty, "\(drift.joined(separator: "\n"))")
        #expect(schema.objects.count >= 36)
    }

    @Test("the drift check names an undocumented column and table, and a documented one that is gone")
    func driftIsNamed() throws {
        let doc = try DataModelDoc.load()
        var schema = try SchemaObjects.fresh()
        schema.objects["dim_users"]?.columns.append((name: "favourite_show", type: "TEXT"))
        schema.objects["gold_podcast_daily"] = .init(
            kind: "table", sql: "", columns: [(name: "day", type: "TEXT")])
        schema.objects["dim_episodes"]?.columns.removeAll { $0.name == "title" }
        schema.objects["gold_top_episodes_7d"]?.columns = [(name: "rank", type: "TEXT")]
        let drift = dataModelDrift(doc, schema)
        #expect(drift.contains("column dim_users.favourite_show is not documented in doc/data-model.md"))
        #expect(drift.contains("table gold_podcast_daily is not documented in doc/data-model.md"))
        #expect(drift.contains("column dim_episodes.title is documented but does not exist"))
        #expect(drift.contains("column gold_top_episodes_7d.rank is TEXT, the doc says INTEGER"))
    }

    @Test("the analysts' objects declare INTEGER, REAL or TEXT for every column (CAST in views)")
    func analystColumnsAreTyped() throws {
        let doc = try DataModelDoc.load()
        let schema = try SchemaObjects.fresh()
        for object in doc.objects where object.layer == .star || object.layer == .answer {
            let actual = try #require(schema.objects[object.name], "\(object.name)")
            for column in object.columns {
                #expect(["INTEGER", "REAL", "TEXT"].contains(column.type), "\(object.name).\(column.name)")
                let declared = actual.columns.first { $0.name == column.name }?.type ?? ""
                if !declared.isEmpty { continue }
                // SQLite before 3.41 reports no type for an expression: the view must CAST it
                // to the documented type (which 3.41 and later report).
                let pattern = "AS \(column.type)\\)\\s+AS \(column.name)\\b"
                #expect(
                    actual.sql.range(of: pattern, options: .regularExpression) != nil,
                    "\(object.name).\(column.name): an expression without CAST(… AS \(column.type))")
            }
        }
    }

    @Test("podpipe_catalog holds the doc, from a resource generated from it")
    func catalogIsTheDoc() throws {
        let doc = try DataModelDoc.load()
        try expectGenerated(DataModelDoc.catalogPath, doc.catalogSQL)
        let folder = try TemporaryFolder("catalog")
        defer { folder.remove() }
        do {
            let store = try folder.store()
            let rows = try store.pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT object_name, column_name, kind, layer, position, type, description
                        FROM podpipe_catalog ORDER BY position
                        """
                ).map { (row: Row) -> [String] in Array(row.databaseValues).map(plain) }
            }
            let expected = doc.catalogRows
            #expect(rows.count == expected.count)
            let differing = zip(rows, expected).first { $0.0 != $0.1 }
            #expect(
                differing == nil, "podpipe_catalog row \(differing?.0 ?? []) expected \(differing?.1 ?? [])")
            #expect(rows.contains { $0[0] == "fact_user_interactions" && $0[1] == "listen_through_rate" })
            // A writer that opens a database whose descriptions came from another podpipe (another
            // resource digest) replaces them.
            try store.pool.write { db in
                try db.execute(sql: "UPDATE podpipe_catalog SET description = 'stale'")
                try db.execute(sql: "UPDATE pipeline_state SET value = 'older' WHERE key = 'catalog.sha256'")
            }
        }
        let reopened = try folder.store()
        let stale = try reopened.pool.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM podpipe_catalog WHERE description = 'stale'")
        }
        #expect(stale == 0)
    }

    @Test("the Datasette metadata is current and names only tables, views and columns that exist")
    func datasetteMetadataMatchesSchema() throws {
        let doc = try DataModelDoc.load()
        let metadata = try regeneratedMetadata(doc)
        try expectGenerated(DataModelDoc.metadataPath, try DataModelDoc.json(metadata))
        let schema = try SchemaObjects.fresh()
        let databases = try #require(metadata["databases"] as? [String: Any])
        let database = try #require(databases[DataModelDoc.datasetteDatabase] as? [String: Any])
        let tables = try #require(database["tables"] as? [String: Any])
        for (name, value) in tables {
            let object = try #require(schema.objects[name], "metadata names \(name), which does not exist")
            let table = try #require(value as? [String: Any])
            var named = (table["columns"] as? [String: Any]).map { Array($0.keys) } ?? []
            named += table["facets"] as? [String] ?? []
            named += ["sort", "sort_desc", "label_column"].compactMap { table[$0] as? String }
            for column in named {
                #expect(object.columns.contains { $0.name == column }, "metadata names \(name).\(column)")
            }
        }
        // Internals hidden, the analysts' objects described.
        for object in doc.objects {
            let table = tables[object.name] as? [String: Any]
            #expect((table?["hidden"] as? Bool ?? false) == !object.layer.shownToAnalysts, "\(object.name)")
        }
        // Every canned query compiles against the schema (names checked by SQLite).
        let queries = cannedQueries(metadata)
        #expect(Set(queries.keys) == ["top_episodes_7d", "listen_through_by_country", "multi_episode_users"])
        let folder = try TemporaryFolder("datasette")
        defer { folder.remove() }
        let store = try folder.store()
        try store.pool.read { db in
            for (name, sql) in queries {
                #expect(throws: Never.self, "\(name)") { _ = try db.makeStatement(sql: sql) }
            }
        }
    }

    @Test("the canned queries give gold's answers (empty parameters) and the report's (as_of)")
    func cannedQueriesAnswerAsGold() throws {
        let queries = cannedQueries(try regeneratedMetadata(try DataModelDoc.load()))
        let world = try SilverWorld()
        try world.reference(
            users: [
                "u1": .init(signup: "2024-01-01", country: "DE"),
                "u2": .init(signup: "2024-02-01", country: "FR"),
            ],
            episodes: ["e1": .init(podcast: "p", title: "One", release: "2024-01-01", duration: 1000)])
        for (day, user) in [("2024-03-01", "u1"), ("2024-03-02", "u2"), ("2024-03-09", "u1")] {
            for episode in ["e1", "e2", "e3"] {
                try world.event(user, episode, "play", on: day)
                try world.event(user, episode, "complete", on: day, duration: 700)
            }
        }
        try world.event("u3", "e2", "complete", on: "2024-03-09")
        try world.refresh()
        try world.queue.read { db in
            func run(_ name: String, _ arguments: [String: String]) throws -> [[String]] {
                let sql = try #require(queries[name])
                return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map {
                    (row: Row) -> [String] in Array(row.databaseValues).map(plain)
                }
            }
            func table(_ sql: String) throws -> [[String]] {
                try Row.fetchAll(db, sql: sql).map { (row: Row) -> [String] in
                    Array(row.databaseValues).map(plain)
                }
            }
            #expect(
                try run("top_episodes_7d", ["as_of": ""])
                    == table("SELECT * FROM gold_top_episodes_7d ORDER BY rank"))
            let asOf = try run("top_episodes_7d", ["as_of": "2024-03-02"])
            let report = try Reports.run(.topEpisodes, options: ReportOptions(asOf: "2024-03-02"), in: db)
            let reported: [[String]] = report.rows.map { (row: [ReportValue]) -> [String] in row.map(plain) }
            #expect(asOf.map { Array($0.prefix(5)) } == reported)
            #expect(!asOf.isEmpty)
            #expect(
                try run("listen_through_by_country", ["min_completions": ""])
                    == table("SELECT * FROM gold_listen_through_by_country ORDER BY country"))
            #expect(try run("listen_through_by_country", ["min_completions": "2"]).map { $0[0] } == ["DE"])
            #expect(
                try run("multi_episode_users", ["from": "", "to": ""])
                    == table("SELECT users FROM gold_multi_episode_users"))
            #expect(try run("multi_episode_users", ["from": "2024-03-02", "to": "2024-03-02"]) == [["1"]])
        }
    }
}
