#if canImport(Glibc)
    import CMalloc
#endif

/// How the process's allocator hands memory back (call once, first thing in `main`).
///
/// glibc's malloc serves an allocation of at least its mmap threshold with a mapping of its
/// own, returned to the system on free. The threshold starts at 128 KiB but rises to the
/// size of every such block freed (up to 32 MiB), so after the first run of parsed lines is
/// freed, the later ones (several MiB each: a run's raw bytes and its line array, the gold
/// stream's tables) come from the per-thread arenas, which keep what is freed and count in
/// the peak RSS (about 13 MB of it at 5M events: doc/performance.md, session 12). A fixed
/// threshold stops the rise: blocks of 4 MiB or more are mapped and unmapped, the many small
/// ones stay in the arenas. (1 MiB saves a few MB more but costs seconds of page faults.)
public enum ProcessMemory {
    /// Allocations of at least this many bytes get a mapping of their own.
    public static let mmapThreshold: Int32 = 4 << 20

    public static func configure() {
        #if canImport(Glibc)
            _ = mallopt(M_MMAP_THRESHOLD, mmapThreshold)
        #endif
    }
}
