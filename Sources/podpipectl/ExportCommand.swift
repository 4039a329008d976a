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
            lists them); --sql runs one read-only SELECT instead (the database is opened \
            read-only, under PRAGMA query_only). Rows are streamed, never held in memory. \
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
            let store = try common.openStore(settings)
            let source: ExportSource = sql.map { .query($0) } ?? .object(table ?? "")
            if let out {
                guard FileManager.default.createFile(atPath: out, contents: nil),
                    let file = FileHandle(forWritingAtPath: out)
                else {
                    throw CLIError(
                        message: "cannot write \(out): check that its folder exists and is writable",
                        code: PodpipeExit.configuration)
                }
                do {
                    _ = try await store.pool.read { db in
                        try TableExport.run(source, format: format, forTerminal: false, in: db) { data in
                            try file.write(contentsOf: data)
                        }
                    }
                    try file.close()
                } catch {
                    try? file.close()
                    try? FileManager.default.removeItem(atPath: out)
                    throw error
                }
            } else {
                let terminal = isatty(STDOUT_FILENO) == 1
                _ = try await store.pool.read { db in
                    try TableExport.run(source, format: format, forTerminal: terminal, in: db) { data in
                        try FileHandle.standardOutput.write(contentsOf: data)
                    }
                }
            }
        }
    }
}
