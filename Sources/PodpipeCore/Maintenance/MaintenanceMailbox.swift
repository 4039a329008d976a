import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// How podpipectl hands a ``MaintenanceCommand`` to the running daemon, which owns the
/// database: a folder beside the database (`DATABASE.requests/`) holding one file per request
/// (`ID.request`, JSON) and, once the daemon ran it, one per result (`ID.result`). Each file
/// is written whole under a temporary name and renamed into place, so a reader never sees
/// half of one. podpipectl writes the request, sends SIGUSR1, and waits for the result;
/// the daemon picks requests up between two files (each is one transaction, as when
/// podpipectl runs it itself) and answers them oldest first.
///
/// Why files and not a table: a row would be a second writer's transaction on the
/// database, waiting behind a file's load for as long as it takes; the folder needs only
/// the directory the database lives in, which both already write (its `-wal`).
public struct MaintenanceMailbox: Sendable {
    let directory: String

    /// The mailbox of `database`, named after the file's resolved path, so that podpipectl
    /// and the daemon find the same folder whichever name of the file each was given.
    public init(database: String) {
        var resolved = database
        if let real = realpath(database, nil) {
            resolved = String(cString: real)
            free(real)
        }
        directory = resolved + ".requests"
    }

    /// Creates the folder (the daemon does at start, so that it is the daemon's user's, and
    /// its group's: operators of that group may hand commands over).
    func prepare() throws {
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o770])
    }

    /// Writes a request; returns its id (time-ordered: the daemon answers in this order).
    public func submit(_ command: MaintenanceCommand, now: Date = Date()) throws -> String {
        try prepare()
        let nanoseconds = Int64(clamping: Int64((now.timeIntervalSince1970 * 1e9).rounded(.down)))
        let id = "\(nanoseconds)-\(getpid())"
        try write(JSONEncoder().encode(command), to: path(id, .request))
        return id
    }

    /// The requests waiting, oldest first; one that cannot be read is answered with its
    /// error at once (and not returned).
    func pending() -> [(id: String, command: MaintenanceCommand)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var found: [(id: String, command: MaintenanceCommand)] = []
        for name in names.sorted() where name.hasSuffix(Kind.request.suffix) && !name.hasPrefix(".") {
            let id = String(name.dropLast(Kind.request.suffix.count))
            do {
                let data = try Data(contentsOf: URL(fileURLWithPath: path(id, .request)))
                found.append((id, try JSONDecoder().decode(MaintenanceCommand.self, from: data)))
            } catch {
                try? answer(
                    id,
                    MaintenanceResult(
                        failure: MaintenanceError.unreadableRequest(
                            path: path(id, .request), reason: "\(error)")))
            }
        }
        return found
    }

    /// Records the result of request `id` and removes the request.
    func answer(_ id: String, _ result: MaintenanceResult) throws {
        try write(JSONEncoder().encode(result), to: path(id, .result))
        unlink(path(id, .request))
    }

    /// Whether request `id` is still waiting (not yet picked up).
    func isWaiting(_ id: String) -> Bool {
        FileManager.default.fileExists(atPath: path(id, .request))
    }

    /// The result of request `id` once the daemon wrote it (the result file is then
    /// removed), nil while it has not.
    public func takeResult(_ id: String) -> MaintenanceResult? {
        let file = path(id, .result)
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: file)),
            let result = try? JSONDecoder().decode(MaintenanceResult.self, from: data)
        else { return nil }
        unlink(file)
        return result
    }

    /// Removes results older than `age` seconds (a `--no-wait` request's answer nobody read).
    func removeResults(olderThan age: Double, now: Date = Date()) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names where name.hasSuffix(Kind.result.suffix) {
            let file = directory + "/" + name
            guard
                let modified = try? FileManager.default.attributesOfItem(atPath: file)[.modificationDate]
                    as? Date,
                now.timeIntervalSince(modified) > age
            else { continue }
            unlink(file)
        }
    }

    /// Withdraws request `id` if the daemon has not picked it up yet; true when withdrawn.
    public func withdraw(_ id: String) -> Bool {
        unlink(path(id, .request)) == 0
    }

    private enum Kind {
        case request, result
        var suffix: String { self == .request ? ".request" : ".result" }
    }

    private func path(_ id: String, _ kind: Kind) -> String {
        directory + "/" + id + kind.suffix
    }

    /// Writes `data` whole under a temporary name, then renames it to `target`.
    private func write(_ data: Data, to target: String) throws {
        let temporary = directory + "/." + (target as NSString).lastPathComponent + ".tmp"
        try data.write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, target) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw MaintenanceError.mailbox(path: target, reason: reason)
        }
    }
}
