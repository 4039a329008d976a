import ArgumentParser
import Foundation
import PodpipeCore

extension ExportFormat: ExpressibleByArgument {}

/// `podpipectl export`: a table, a view or a query as CSV, JSON or NDJSON.
struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export an analyst-facing table or view, or a read-only query, as CSV, JSON or NDJSON.",
        discussion: """
            TABLE is one of the star schema, the gold answers or silver (an unknown name \
            lists them); --sql runs one read-only SELECT instead (SQLite: the database is \
            opened read-only, under PRAGMA query_only; PostgreSQL: a READ ONLY transaction, \
            the query declared as a cursor). TABLE's rows are ordered by every column in \
            turn (text in byte order, NULL first), the same on SQLite and PostgreSQL. Rows are streamed, never held in memory. \
            CSV: a header row, RFC 4180 quoting, \\n line ends, NULL empty. JSON and NDJSON \
            keep types: integers and reals as numbers, NULL as null. To a terminal, texts \
            are escaped (control characters shown, never acted on); to a file (--out) or a \
            pipe, the bytes are exact.
            """)

    @OptionGroup var common: CommonOptions

    @Argument(help: "The table or view to export (e.g. fact_user_interactions).")
    var table: String?

    @Option(name: .long, help: "Export the rows of this read-only query instead of a table.")
    var sql: String?

    @Option(name: .long, help: "csv, json or ndjson.")
    var format: ExportFormat = .csv

    @Option(name: .long, help: "Write to this file (replaced) instead of stdout.", completion: .file())
    var out: String?

    func validate() throws {
        switch (table, sql) {
        case (nil, nil): throw ValidationError("name a table or view to export, or give --sql QUERY")
        case (.some, .some): throw ValidationError("give either a table or --sql QUERY, not both")
        default: break
        }
    }

    func run() async throws {
        try await handling {
            let settings = try await common.load()
            let source: ExportSource = sql.map { .query($0) } ?? .object(table ?? "")
            // A PostgreSQL warehouse exports through its own cursor; a SQLite file through
            // a read transaction of the read-only store. The same bytes either way.
            let export: (Bool, @escaping @Sendable (Data) throws -> Void) async throws -> Void
            if let warehouse = try Warehouse.open(settings) {
                export = { terminal, write in
                    try warehouse.export(source, format: format, forTerminal: terminal, write: write)
                }
            } else {
                let store = try common.openStore(settings)
                export = { terminal, write in
                    _ = try await store.pool.read { db in
                        try TableExport.run(
                            source, format: format, forTerminal: terminal, in: db, write: write)
                    }
                }
            }
            if let out {
                guard FileManager.default.createFile(atPath: out, contents: nil),
                    let file = FileHandle(forWritingAtPath: out)
                else {
                    throw CLIError(
                        message: "cannot write \(out): check that its folder exists and is writable",
                        code: PodpipeExit.configuration)
                }
                do {
                    try await export(false) { data in try file.write(contentsOf: data) }
                    try file.close()
                } catch {
                    try? file.close()
                    try? FileManager.default.removeItem(atPath: out)
                    throw error
                }
            } else {
                try await export(isatty(STDOUT_FILENO) == 1) { data in
                    try FileHandle.standardOutput.write(contentsOf: data)
                }
            }
        }
    }
}
