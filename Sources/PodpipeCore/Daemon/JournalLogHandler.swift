import CSystemd
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The fixed `MESSAGE_ID`s of podpipe's journal records, chosen by the `event` metadata key
/// of a log call (``LogEventKind`` holds them).
enum PodpipeMessageID {
    /// `event` metadata value → 128-bit id (32 lower-case hex digits).
    static let byEvent: [String: String] = Dictionary(
        uniqueKeysWithValues: LogEventKind.allCases.compactMap { event in
            event.messageID.map { (event.rawValue, $0) }
        })

    /// The id for a record whose `event` metadata is `event`, if that kind has one.
    static func forEvent(_ event: String) -> String? { byEvent[event] }
}

/// Builds native journal records (`KEY=value` fields) from swift-log events. Pure: the
/// handler below sends what this returns, the tests check it without a journal.
enum JournalRecord {
    /// Journal field names are upper-case ASCII letters, digits and `_`, at most 64
    /// characters, not starting with `_` or a digit. Metadata keys get the `PODPIPE_`
    /// prefix; any other character becomes `_` (`duration_ms` → `PODPIPE_DURATION_MS`,
    /// `new-events` → `PODPIPE_NEW_EVENTS`).
    static func fieldName(forMetadataKey key: String) -> String {
        var name = "PODPIPE_"
        for byte in key.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"): name.append(Character(UnicodeScalar(byte - 32)))
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                name.append(Character(UnicodeScalar(byte)))
            default: name.append("_")
            }
        }
        return String(name.prefix(64))
    }

    /// syslog priority of a swift-log level (journal `PRIORITY=`): trace and debug 7, info
    /// 6, notice 5, warning 4, error 3, critical 2.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// The fields of one record, in order: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, CODE_FILE,
    /// CODE_LINE, CODE_FUNC, MESSAGE_ID (when the `event` metadata names a known kind), then
    /// the metadata as `PODPIPE_*` fields sorted by name (and `PODPIPE_ERROR` for an error
    /// attached to the event). Values may contain newlines: the native protocol (and
    /// `sd_journal_sendv`) carry them as binary-safe fields.
    static func fields(
        level: Logger.Level, message: String, metadata: Logger.Metadata, identifier: String,
        file: String, line: UInt, function: String, error: (any Error)? = nil
    ) -> [String] {
        var fields = [
            "MESSAGE=\(message)",
            "PRIORITY=\(priority(level))",
            "SYSLOG_IDENTIFIER=\(identifier)",
            "CODE_FILE=\(file)",
            "CODE_LINE=\(line)",
            "CODE_FUNC=\(function)",
        ]
        if case .some(let event) = metadata["event"], let id = PodpipeMessageID.forEvent("\(event)") {
            fields.append("MESSAGE_ID=\(id)")
        }
        var named: [(String, String)] = metadata.map { (fieldName(forMetadataKey: $0.key), "\($0.value)") }
        if let error { named.append(("PODPIPE_ERROR", "\(error)")) }
        named.sort { $0.0 < $1.0 }
        for (name, value) in named { fields.append("\(name)=\(value)") }
        return fields
    }
}

/// Sends records to the journal's native socket with `sd_journal_sendv` (the variadic
/// `sd_journal_send` is not callable from Swift).
enum JournalSender {
    /// Sends one record; returns false when the journal refused it (no journal running,
    /// a record over the socket's limits), so that the caller can fall back to stderr.
    @discardableResult
    static func send(_ fields: [String]) -> Bool {
        var buffer: [UInt8] = []
        var ranges: [Range<Int>] = []
        for field in fields {
            let start = buffer.count
            buffer.append(contentsOf: field.utf8)
            ranges.append(start..<buffer.count)
        }
        let result = buffer.withUnsafeMutableBytes { raw -> Int32 in
            guard let base = raw.baseAddress else { return -1 }
            let vectors = ranges.map { range in
                iovec(iov_base: base + range.lowerBound, iov_len: range.count)
            }
            return vectors.withUnsafeBufferPointer { iov in
                sd_journal_sendv(iov.baseAddress, Int32(iov.count))
            }
        }
        return result >= 0
    }

    /// True when stderr is the journal's stream for this process: systemd sets
    /// `JOURNAL_STREAM=<device>:<inode>` of the stream socket it connected to stderr
    /// (systemd.exec(5)); a redirected stderr no longer matches.
    static func stderrIsJournal(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> Bool
    {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else {
            return false
        }
        var st = stat()
        guard fstat(STDERR_FILENO, &st) == 0 else { return false }
        return UInt64(st.st_dev) == device && UInt64(st.st_ino) == inode
    }
}

/// podpipe's swift-log handler: native journal records (``JournalRecord``) when the shared
/// ``LoggingControl`` says so, readable stderr lines otherwise. The level and the target are
/// read from the control at each call, so that SIGHUP can change them for every logger.
struct PodpipeLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    let label: String
    let control: LoggingControl
    private var levelOverride: Logger.Level?

    init(label: String, control: LoggingControl, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.control = control
        self.metadataProvider = metadataProvider
    }

    var logLevel: Logger.Level {
        get { levelOverride ?? control.level }
        set { levelOverride = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let message = event.message.description
        if control.useJournal {
            let fields = JournalRecord.fields(
                level: event.level, message: message, metadata: merged, identifier: control.identifier,
                file: event.file, line: event.line, function: event.function, error: event.error)
            if JournalSender.send(fields) { return }
        }
        let line = StderrLine.format(
            date: Date(), level: event.level, label: label, message: message, metadata: merged,
            error: event.error)
        FileHandle.standardError.write(Data(line.utf8))
    }
}

/// The readable stderr form: `2024-04-21T09:13:28Z info podpiped: file loaded file=a.json rows=4`.
///
/// One record is one line, safe on a terminal: the message, the label, every metadata value
/// and the error pass through ``TerminalText/escape(_:)`` (file names, ids and raw lines come
/// from input); a value with a space, a quote or nothing in it is then quoted. Journal
/// records keep exact values in their fields instead (``JournalRecord``).
enum StderrLine {
    static func format(
        date: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata,
        error: (any Error)? = nil
    ) -> String {
        var line =
            "\(ISOTime.format(date)) \(level) \(TerminalText.escape(label)): \(TerminalText.escape(message))"
        for key in metadata.keys.sorted() {
            guard let value = metadata[key] else { continue }
            line += " \(TerminalText.escape(key))=\(quoted("\(value)"))"
        }
        if let error { line += " error=\(quoted("\(error)"))" }
        return line + "\n"
    }

    /// `value` as it is when it is one plain word; otherwise in double quotes, a backslash
    /// doubled and a quote as `\"`, then escaped for the terminal (a line break is `\n`).
    static func quoted(_ value: String) -> String {
        let plain =
            !value.isEmpty
            && value.unicodeScalars.allSatisfy { $0 != " " && $0 != "\"" && !TerminalText.needsEscape($0) }
        if plain { return value }
        let inner = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(
            of: "\"", with: "\\\"")
        return "\"" + TerminalText.escape(inner) + "\""
    }
}
