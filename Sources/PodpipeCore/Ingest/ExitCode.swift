/// The documented exit codes of `podpiped` (sysexits.h where one fits).
public enum PodpipeExit {
    /// Every file seen was loaded, recorded as duplicate, or rejected with its reasons.
    public static let success: Int32 = 0
    /// At least one file failed (I/O or database error); it is recorded `failed` and retried.
    static let filesFailed: Int32 = 1
    /// Bad command line (argument-parser's own usage errors use 64 too).
    static let usage: Int32 = 64
    /// The database could not be opened or written (EX_SOFTWARE-like internal failure).
    public static let databaseError: Int32 = 70
    /// Another writer holds the database: a second daemon or an overlapping `--once`.
    public static let anotherWriter: Int32 = 75
    /// An output file could not be created or written (EX_CANTCREAT): `report html --out`.
    public static let cannotCreate: Int32 = 73
    /// Bad configuration (file missing or unreadable, invalid value), or the drop folder
    /// is missing.
    public static let configuration: Int32 = 78
}
