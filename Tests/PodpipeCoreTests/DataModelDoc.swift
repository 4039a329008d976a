import Foundation

/// `doc/data-model.md` read as data: the one source of the descriptions of every table and
/// view, and what is generated from it (the `podpipe_catalog` rows, the descriptions of the
/// Datasette metadata). The conventions it reads are stated at the top of the doc:
/// - the table `| object | kind | layer | grain |` lists every table and view;
/// - each has a `### \`name\`` heading; the text under it (tables left out) is its
///   description;
/// - the first table `| column | type | meaning |` under the heading lists its columns, one
///   per row, the first cell the column's name in backticks.
struct DataModelDoc {
    enum Kind: String, Sendable { case table, view }

    /// Who an object is for (the doc's "Objects at a glance").
    enum Layer: String, Sendable, CaseIterable {
        case star, answer, ledger, bronze, silver, state, `internal`

        /// The analysts' objects (and the ledger, for data freshness): shown in Datasette.
        var shownToAnalysts: Bool { self == .star || self == .answer || self == .ledger }
    }

    struct Column: Equatable {
        var name: String
        var type: String
        var meaning: String
    }

    struct Object {
        var name: String
        var kind: Kind
        var layer: Layer
        var grain: String
        var description: String
        var columns: [Column]
    }

    /// The objects, in the order of their sections.
    var objects: [Object] = []
    /// What does not follow the conventions (each a sentence naming the object).
    var problems: [String] = []

    static let directoryHeader = ["object", "kind", "layer", "grain"]
    static let columnsHeader = ["column", "type", "meaning"]

    /// The repository's root, from this file's path (`Tests/PodpipeCoreTests/…`).
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func url(_ relativePath: String) -> URL {
        repositoryRoot.appendingPathComponent(relativePath)
    }

    static func load() throws -> DataModelDoc {
        parse(try String(contentsOf: url("doc/data-model.md"), encoding: .utf8))
    }

    // MARK: - Parsing

    static func parse(_ text: String) -> DataModelDoc {
        var doc = DataModelDoc()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var directory: [(name: String, kind: Kind, layer: Layer, grain: String)] = []
        var index = 0
        while index < lines.count {
            let line = lines[index]
            if isTableRow(line), cells(line).map({ $0.lowercased() }) == directoryHeader {
                index += 2  // header and separator
                while index < lines.count, isTableRow(lines[index]) {
                    let row = cells(lines[index])
                    index += 1
                    guard row.count == 4, let name = codeName(row[0]) else {
                        doc.problems.append(
                            "directory row \(row.joined(separator: " | ")): not `name` | kind | layer | grain"
                        )
                        continue
                    }
                    guard let kind = Kind(rawValue: row[1]), let layer = Layer(rawValue: row[2]) else {
                        doc.problems.append(
                            "\(name): directory kind '\(row[1])' or layer '\(row[2])' unknown")
                        continue
                    }
                    directory.append((name, kind, layer, row[3]))
                }
                continue
            }
            if line.hasPrefix("### ") {
                let heading = String(line.dropFirst(4)).trimmingCharacters(in: .whitespaces)
                index += 1
                var body: [String] = []
                while index < lines.count, !isHeading(lines[index]) {
                    body.append(lines[index])
                    index += 1
                }
                guard let name = codeName(heading) else {
                    doc.problems.append("heading '### \(heading)': not a `name`")
                    continue
                }
                guard let entry = directory.first(where: { $0.name == name }) else {
                    doc.problems.append("\(name): has a section but no row in \"Objects at a glance\"")
                    continue
                }
                let (description, columns, problems) = section(name, body)
                doc.problems += problems
                doc.objects.append(
                    Object(
                        name: name, kind: entry.kind, layer: entry.layer, grain: entry.grain,
                        description: description, columns: columns))
                continue
            }
            index += 1
        }
        for entry in directory where !doc.objects.contains(where: { $0.name == entry.name }) {
            doc.problems.append("\(entry.name): in \"Objects at a glance\" but has no ### section")
        }
        return doc
    }

    /// An object's section: its description (paragraphs, tables left out) and columns.
    private static func section(_ name: String, _ body: [String]) -> (String, [Column], [String]) {
        var paragraphs: [String] = []
        var paragraph: [String] = []
        var columns: [Column] = []
        var problems: [String] = []
        var sawColumns = false
        var index = 0
        func endParagraph() {
            if !paragraph.isEmpty { paragraphs.append(paragraph.joined(separator: " ")) }
            paragraph = []
        }
        while index < body.count {
            let line = body[index].trimmingCharacters(in: .whitespaces)
            guard isTableRow(line) else {
                if line.isEmpty { endParagraph() } else { paragraph.append(line) }
                index += 1
                continue
            }
            endParagraph()
            let isColumns = !sawColumns && cells(line).map { $0.lowercased() } == columnsHeader
            index += 2
            while index < body.count, isTableRow(body[index]) {
                defer { index += 1 }
                guard isColumns else { continue }
                let row = cells(body[index])
                guard row.count == 3, let column = codeName(row[0]) else {
                    problems.append("\(name): column row '\(body[index])' is not `name` | type | meaning")
                    continue
                }
                columns.append(Column(name: column, type: row[1], meaning: row[2]))
            }
            sawColumns = sawColumns || isColumns
        }
        endParagraph()
        if !sawColumns { problems.append("\(name): no | column | type | meaning | table") }
        return (paragraphs.joined(separator: "\n\n"), columns, problems)
    }

    private static func isHeading(_ line: String) -> Bool {
        line.hasPrefix("# ") || line.hasPrefix("## ") || line.hasPrefix("### ")
    }

    private static func isTableRow(_ line: String) -> Bool {
        line.trimmingCharacters(in: .whitespaces).hasPrefix("|")
    }

    /// A Markdown table row's cells, trimmed (`\|` is a `|` inside a cell).
    static func cells(_ line: String) -> [String] {
        var cells: [String] = []
        var current = ""
        var escaped = false
        for character in line.trimmingCharacters(in: .whitespaces) {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "|" {
                cells.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current.append(character)
            }
        }
        cells.append(current.trimmingCharacters(in: .whitespaces))
        // The text before the first and after the last `|` is not a cell.
        return Array(cells.dropFirst().dropLast())
    }

    /// `name` for a cell or heading that is exactly one identifier in backticks.
    static func codeName(_ text: String) -> String? {
        guard text.count > 2, text.hasPrefix("`"), text.hasSuffix("`") else { return nil }
        let name = text.dropFirst().dropLast()
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { return nil }
        return String(name)
    }

    // MARK: - Generated: the catalog's rows

    /// The rows of `podpipe_catalog`: each object, then its columns, numbered in doc order.
    var catalogRows: [[String]] {
        var rows: [[String]] = []
        for object in objects {
            rows.append([
                object.name, "", object.kind.rawValue, object.layer.rawValue, "\(rows.count + 1)", "",
                object.description,
            ])
            for column in object.columns {
                rows.append([
                    object.name, column.name, "column", object.layer.rawValue, "\(rows.count + 1)",
                    column.type, column.meaning,
                ])
            }
        }
        return rows
    }

    /// `Sources/PodpipeCore/SQL/catalog/podpipe_catalog.sql`.
    var catalogSQL: String {
        func literal(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }
        let values = catalogRows.map { row in
            "("
                + row.enumerated().map { $0.offset == 4 ? $0.element : literal($0.element) }.joined(
                    separator: ", ") + ")"
        }
        return """
            -- podpipe_catalog — GENERATED from doc/data-model.md by scripts/update-catalog.sh: do not edit.
            -- Grain: one table or view (column_name = '') or one column of one. The writer loads
            -- this file at every open (Store/Catalog.swift), replacing the rows it holds.
            DELETE FROM podpipe_catalog;
            INSERT INTO podpipe_catalog (object_name, column_name, kind, layer, position, type, description) VALUES
            \(values.joined(separator: ",\n"));

            """
    }

    // MARK: - Generated: the Datasette metadata's descriptions

    static let datasetteDatabase = "podpipe"
    static let metadataPath = "deploy/datasette-metadata.json"
    static let catalogPath = "Sources/PodpipeCore/SQL/catalog/podpipe_catalog.sql"

    /// The model of the top-episodes answer as a Datasette canned query: `:as_of` a
    /// `YYYY-MM-DD` (empty: the latest event's day) instead of the model's `:as_of_day`.
    static func topEpisodesQuery(model: String) -> String {
        let header = """
            -- Top 10 episodes by complete events over the 7 UTC days ending on :as_of (YYYY-MM-DD;
            -- empty: the day of the latest event). GENERATED from SQL/gold/gold_top_episodes_7d.sql,
            -- the model of the table gold_top_episodes_7d (see doc/data-model.md).

            """
        let body = model.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("--") }.joined(separator: "\n")
            .replacingOccurrences(
                of: ":as_of_day", with: "(CAST(strftime('%s', NULLIF(:as_of, '')) AS INTEGER) / 86400)")
        return header + body.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `metadata` (the file's JSON) with the keys this doc owns replaced: each object's
    /// description, column descriptions and `hidden` (layers not shown to analysts), and the
    /// `top_episodes_7d` canned query's SQL. Everything else (facets, sort, the other
    /// queries) is the file's own.
    func datasetteMetadata(from metadata: [String: Any], topEpisodesModel: String) -> [String: Any] {
        var metadata = metadata
        var databases = metadata["databases"] as? [String: Any] ?? [:]
        var database = databases[Self.datasetteDatabase] as? [String: Any] ?? [:]
        var tables = database["tables"] as? [String: Any] ?? [:]
        for object in objects {
            var table = tables[object.name] as? [String: Any] ?? [:]
            if object.layer.shownToAnalysts {
                table["description"] = object.description
                table["columns"] = Dictionary(
                    object.columns.map { ($0.name, $0.meaning) }, uniquingKeysWith: { first, _ in first })
                table.removeValue(forKey: "hidden")
            } else {
                table = ["hidden": true]
            }
            tables[object.name] = table
        }
        database["tables"] = tables
        var queries = database["queries"] as? [String: Any] ?? [:]
        var top = queries["top_episodes_7d"] as? [String: Any] ?? [:]
        top["sql"] = Self.topEpisodesQuery(model: topEpisodesModel)
        queries["top_episodes_7d"] = top
        database["queries"] = queries
        databases[Self.datasetteDatabase] = database
        metadata["databases"] = databases
        return metadata
    }

    static func json(_ object: [String: Any]) throws -> String {
        let data = try JSONSerialization.data(
            withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return (String(data: data, encoding: .utf8) ?? "") + "\n"
    }
}
