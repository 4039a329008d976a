import Foundation

@testable import PodpipeCore

/// A fresh folder under the system's temporary directory for one test (`remove()` it in a
/// `defer`), with the writer store most tests open in it.
struct TemporaryFolder {
    let url: URL

    init(_ prefix: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "podpipe-\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The path of `name` in the folder.
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// A subfolder, created.
    func folder(_ name: String) throws -> String {
        let path = path(name)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The writer store on `db.sqlite` in the folder.
    func store() throws -> Store { try Store.openForWriting(path: path("db.sqlite")) }

    func remove() { try? FileManager.default.removeItem(at: url) }
}
