/// What can go wrong while generating sample data.
public enum SampleDataError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A field of ``SampleDataSpec`` is out of range.
    case invalidSpec(field: String, reason: String)
    /// A system call on `path` failed; `operation` names it (`open`, `write`, `rename`, …)
    /// and `errno` is the C error number.
    case io(path: String, operation: String, errno: Int32)
    /// zlib reported an error while compressing `path`.
    case compression(path: String, operation: String, code: Int32)

    public var description: String {
        switch self {
        case .invalidSpec(let field, let reason):
            return "invalid sample data spec: \(field): \(reason)"
        case .io(let path, let operation, let errno):
            return "\(operation) failed for \(path): \(SystemCalls.errorText(errno)) (errno \(errno))"
        case .compression(let path, let operation, let code):
            return "zlib \(operation) failed for \(path) (code \(code))"
        }
    }
}
