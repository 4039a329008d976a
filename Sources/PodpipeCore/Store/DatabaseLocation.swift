import Foundation

/// Where the database is, from the `database` setting: a SQLite file (the default), or a
/// PostgreSQL server (`postgresql://…` or `postgres://…`, a libpq connection URI). A URI is
/// never taken for a file path.
enum DatabaseLocation: Equatable, Sendable {
    case sqlite(path: String)
    case postgresql(uri: String)

    init(_ setting: String) {
        let lowered = setting.lowercased()
        if lowered.hasPrefix("postgresql://") || lowered.hasPrefix("postgres://") {
            self = .postgresql(uri: setting)
        } else {
            self = .sqlite(path: setting)
        }
    }

    /// The setting as it may be shown: a URI's password is replaced by `***`.
    var shown: String {
        switch self {
        case .sqlite(let path): path
        case .postgresql(let uri): Self.redacting(uri)
        }
    }

    /// `uri` with the password of its user-info part (`user:password@`) and any `password=`
    /// query parameter replaced by `***`.
    static func redacting(_ uri: String) -> String {
        var text = uri
        if let scheme = text.range(of: "://") {
            let rest = text[scheme.upperBound...]
            let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@"),
                let colon = rest[..<at].firstIndex(of: ":")
            {
                text.replaceSubrange(text.index(after: colon)..<at, with: "***")
            }
        }
        if let query = text.firstIndex(of: "?") {
            let head = text[...query]
            let parameters = text[text.index(after: query)...].split(
                separator: "&", omittingEmptySubsequences: false
            )
            .map { parameter -> String in
                parameter.lowercased().hasPrefix("password=") ? "password=***" : String(parameter)
            }
            text = head + parameters.joined(separator: "&")
        }
        return text
    }
}

extension PodpipeConfig {
    /// Whether the `database` setting names a PostgreSQL server (podpipectl's choice of path).
    public var databaseIsPostgreSQL: Bool {
        if case .postgresql = DatabaseLocation(database) { return true }
        return false
    }
}
