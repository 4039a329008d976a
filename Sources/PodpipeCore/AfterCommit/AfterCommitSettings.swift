import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What becomes of a file of the drop folder once its ledger entry is final (`ingest.after`).
enum AfterCommitMode: String, Sendable, CaseIterable, Codable {
    /// Left in place (SPEC §3's default).
    case keep
    /// `loaded` and `duplicate` files to `ingest.processed_dir`, `rejected` ones to
    /// `ingest.rejected_dir`.
    case move
    /// Unlinked.
    case delete
}

/// The after-commit settings: the mode and the two folders (absolute paths; by default
/// `processed` and `rejected` beside the drop folder).
struct AfterCommitSettings: Sendable, Equatable {
    var mode: AfterCommitMode = .keep
    var processedDir: String = "processed"
    var rejectedDir: String = "rejected"

    init(
        mode: AfterCommitMode = .keep, processedDir: String = "processed", rejectedDir: String = "rejected"
    ) {
        self.mode = mode
        self.processedDir = processedDir
        self.rejectedDir = rejectedDir
    }

    /// Where a file whose final ledger state is `state` goes (nil: it stays; a `failed`
    /// file is retried).
    func destination(for state: LedgerState) -> AfterCommitDestination? {
        switch (mode, state) {
        case (.keep, _), (_, .failed): nil
        case (.delete, _): .deleted
        case (.move, .loaded), (.move, .duplicate): .processed
        case (.move, .rejected): .rejected
        }
    }

    /// The folder of a destination (nil for `deleted`).
    func folder(of destination: AfterCommitDestination) -> String? {
        switch destination {
        case .processed: processedDir
        case .rejected: rejectedDir
        case .deleted: nil
        }
    }

    /// Checks the folders on the disk before the first pass (podpiped's start-up and a
    /// reload): in move mode, creates them when missing and refuses them when they resolve
    /// into the drop folder (through a symbolic link) or lie on another file system than it
    /// (a move is one rename(2); across file systems it would be a copy, which podpipe does
    /// not do: put the folders on the drop folder's file system).
    func prepare(dropFolder: String) throws(AfterCommitSetupError) {
        guard mode == .move else { return }
        var folderStat = stat()
        guard stat(dropFolder, &folderStat) == 0 else { return }  // the listing reports it
        let realFolder = DropFolder.realPath(dropFolder) ?? dropFolder
        for (key, folder) in [("ingest.processed_dir", processedDir), ("ingest.rejected_dir", rejectedDir)] {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw .cannotCreate(key: key, path: folder, reason: "\(error.localizedDescription)")
            }
            let real = DropFolder.realPath(folder) ?? folder
            if FolderSelection.isWithin(real, realFolder) {
                throw .insideDropFolder(key: key, path: folder, resolved: real, folder: dropFolder)
            }
            var st = stat()
            guard stat(folder, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
                throw .cannotCreate(key: key, path: folder, reason: "not a directory")
            }
            if st.st_dev != folderStat.st_dev {
                throw .otherFileSystem(key: key, path: folder, folder: dropFolder)
            }
        }
    }
}

/// Where a settled file went (the ledger's `disposal` column, migration 0010).
enum AfterCommitDestination: String, Sendable, CaseIterable, Codable {
    case processed
    case rejected
    case deleted
}

/// The after-commit folders cannot be used: exit 78, like the configuration errors.
enum AfterCommitSetupError: Error, CustomStringConvertible, Equatable {
    case cannotCreate(key: String, path: String, reason: String)
    case insideDropFolder(key: String, path: String, resolved: String, folder: String)
    case otherFileSystem(key: String, path: String, folder: String)

    var description: String {
        switch self {
        case .cannotCreate(let key, let path, let reason):
            "\(key) \(path) cannot be created or used (\(reason)): create it, writable by podpiped, or change \(key)"
        case .insideDropFolder(let key, let path, let resolved, let folder):
            "\(key) \(path) resolves to \(resolved), inside the drop folder \(folder): moved files would be watched again; put it beside the drop folder"
        case .otherFileSystem(let key, let path, let folder):
            "\(key) \(path) is on another file system than the drop folder \(folder): files are moved with rename(2), which cannot cross file systems (a copy could be left half-written by a crash); put it on the drop folder's file system, or set ingest.after to delete or keep"
        }
    }
}
