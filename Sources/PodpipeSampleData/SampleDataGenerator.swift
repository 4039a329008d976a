/// Writes a deterministic, realistic and dirty podcast data set into a folder, and tells
/// exactly what a correct pipeline must make of it (``SampleDataManifest``).
///
/// Files, in processing order (default spec): `users.csv`, `episodes-1.csv`,
/// `events-0001.ndjson` … `events-0003.ndjson.gz`, `episodes-2.csv`, `events-0004.ndjson`
/// … `events-0006.ndjson.gz` (every `eventFiles/gzipFiles`-th file gzipped). Every file is
/// written under a hidden temporary name (`.<name>.tmp`), given its modification time, then
/// renamed into place, in processing order, so a watching daemon never sees a half-written
/// file and mtime order is the intended processing order: reference files get mtimes just
/// before `startDay`, each event file the time of its latest event plus five minutes.
///
/// Same spec, same bytes (own PRNG and integer time formatting; gzip with a fixed header),
/// given the same zlib. Memory stays bounded (about 50 MB for 10 million lines) unless
/// `recordEvents` is on. Files of other names already in the folder are left alone, so
/// generate into an empty folder when the manifest must describe the whole folder.
public enum SampleDataGenerator {
    /// Generates `spec` into `directory` (created if missing) and returns the manifest.
    /// Do not write the manifest into the same folder as JSON: `*.json` is an event-file
    /// name.
    public static func write(
        _ spec: SampleDataSpec, to directory: String
    ) throws(SampleDataError) -> SampleDataManifest {
        try spec.validate()
        guard let firstDay = CivilTime.parseDay(spec.startDay) else {
            throw .invalidSpec(field: "startDay", reason: "not a date")
        }
        try SystemCalls.makeDirectories(directory)
        let start = Int64(firstDay) * CivilTime.secondsPerDay
        let end = start + Int64(spec.days) * CivilTime.secondsPerDay
        let reference = ReferenceData(spec: spec, startDay: firstDay)

        var run = Run(directory: directory)

        // Reference files first (users, then the first episodes file).
        var referenceFiles = reference.files
        let lateEpisodes: ReferenceFile? = spec.splitEpisodes ? referenceFiles.removeLast() : nil
        var mtime = start - 7_200
        for file in referenceFiles {
            try run.writeReference(file, mtime: mtime)
            mtime += 3_600
        }

        // Event files, with the second episodes file in the middle.
        let plans = eventPlans(spec)
        let smallest = plans.map(\.lines).min() ?? 0
        var writer = EventFileWriter(
            spec: spec, reference: reference, start: start, end: end, plans: plans,
            smallestFile: smallest)
        let lateIndex = max(1, spec.eventFiles / 2)
        var previous = mtime
        for plan in plans {
            let temporary = run.temporaryPath(plan.name)
            let stats: EventFileStats
            let fileTime: Int64
            do {
                stats = try writer.write(plan, path: temporary)
                fileTime = max(previous + 1, stats.maxTimestamp + 300)
                try run.publish(plan.name, from: temporary, mtime: fileTime)
            } catch {
                SystemCalls.unlinkIfPresent(temporary)
                throw error
            }
            previous = fileTime
            run.details.append(
                SampleFileDetail(
                    kind: "events", name: plan.name, modificationTime: fileTime,
                    gzip: plan.gzip, crlf: plan.crlf, bom: plan.bom,
                    finalNewline: plan.finalNewline, expectedState: "loaded", rows: stats.rows,
                    blankLines: stats.blankLines, loaded: stats.silver,
                    rejected: stats.rejected, duplicates: stats.duplicates,
                    firstRejectedLine: stats.firstRejectedLine,
                    codeCounts: codeDictionary(stats.codeCounts, includeZeros: false)))
            if plan.index + 1 == lateIndex, let file = lateEpisodes {
                previous += 60
                try run.writeReference(file, mtime: previous)
            }
        }

        if spec.ledgerEdgeCases {
            try run.writeEdgeCases(firstEventFile: plans[0], after: previous, seed: spec.seed)
        }

        var referenceCodes: [String: Int] = [:]
        for code in [
            "wrong_field_count", "missing_episode_id", "invalid_release_date",
            "invalid_duration_seconds", "missing_user_id", "invalid_signup_date",
            "missing_country",
        ] {
            referenceCodes[code] = 0
        }
        for reject in run.referenceRejects { referenceCodes[reject.code, default: 0] += 1 }

        var faults: [String: Int] = [:]
        for (kind, n) in writer.faultCounts { faults[kind.rawValue] = n }
        var duplicates: [String: Int] = [:]
        for (kind, n) in writer.duplicateCounts { duplicates[kind.rawValue] = n }

        let totals = writer.totals
        return SampleDataManifest(
            spec: spec, files: run.details.map(\.name), ignoredFiles: run.ignored,
            fileStates: run.states, fileDetails: run.details, eventLines: totals.rows,
            blankLines: totals.blankLines, expectedSilverEvents: totals.silver,
            expectedRejectedEvents: totals.rejected,
            expectedDuplicateEvents: totals.duplicates,
            expectedCodeCounts: codeDictionary(totals.codeCounts, includeZeros: true),
            expectedReferenceRejects: referenceCodes, referenceRejects: run.referenceRejects,
            expectedUsers: reference.finalUsers.count,
            expectedEpisodes: reference.finalEpisodes.count,
            expectedEventsWithUnknownUser: writer.unknownUserEvents,
            expectedEventsWithUnknownEpisode: writer.unknownEpisodeEvents,
            firstEventTimestamp: writer.firstTimestamp, lastEventTimestamp: writer.lastTimestamp,
            faultCounts: faults, duplicateCounts: duplicates,
            users: spec.recordEvents ? reference.finalUsers : nil,
            episodes: spec.recordEvents ? reference.finalEpisodes : nil,
            events: spec.recordEvents ? writer.recordedEvents : nil,
            rows: spec.recordEvents ? writer.recordedRows : nil)
    }

    /// The event file layout: line budgets, names, and which files carry which file-level
    /// dirt. Independent of `gzipFiles` except for the name suffix.
    static func eventPlans(_ spec: SampleDataSpec) -> [EventFilePlan] {
        let n = spec.eventFiles
        let total = spec.events
        return (0..<n).map { i in
            let lines = total * (i + 1) / n - total * i / n
            let gzip = (i + 1) * spec.gzipFiles / n > i * spec.gzipFiles / n
            let name = "events-" + CivilTime.pad(i + 1, 4) + ".ndjson" + (gzip ? ".gz" : "")
            let crlf: Bool
            switch spec.lineEnds {
            case .mixed: crlf = n >= 2 && i % 3 == 1
            case .lf: crlf = false
            case .crlf: crlf = true
            }
            // `faults: .seed`: no byte-order mark, every file ends with a line end.
            let fileFaults = spec.faults.layoutFaults
            return EventFilePlan(
                index: i, name: name, lines: lines, gzip: gzip, crlf: crlf,
                bom: fileFaults && i == (n >= 2 ? 1 : 0), finalNewline: !fileFaults || i != n - 1)
        }
    }

    static func codeDictionary(_ counts: [Int], includeZeros: Bool) -> [String: Int] {
        var result: [String: Int] = [:]
        for code in ExpectedCode.allCases where includeZeros || counts[code.rawValue] > 0 {
            result[code.name] = counts[code.rawValue]
        }
        return result
    }
}

/// Bookkeeping of one generation run: paths, publication, file details.
private struct Run {
    let directory: String
    var details: [SampleFileDetail] = []
    var states: [String: String] = [:]
    var ignored: [String] = []
    var referenceRejects: [SampleReferenceReject] = []

    init(directory: String) {
        self.directory = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
    }

    func path(_ name: String) -> String { directory + "/" + name }

    func temporaryPath(_ name: String) -> String { directory + "/." + name + ".tmp" }

    /// Sets the mtime of the temporary file and renames it into place.
    mutating func publish(_ name: String, from temporary: String, mtime: Int64)
        throws(SampleDataError)
    {
        try SystemCalls.setModificationTime(temporary, epochSeconds: mtime)
        try SystemCalls.rename(temporary, to: path(name))
        states[name] = states[name] ?? "loaded"
    }

    mutating func writeReference(_ file: ReferenceFile, mtime: Int64) throws(SampleDataError) {
        let temporary = temporaryPath(file.name)
        do {
            try SystemCalls.writeFile(temporary, file.bytes)
            try publish(file.name, from: temporary, mtime: mtime)
        } catch {
            SystemCalls.unlinkIfPresent(temporary)
            throw error
        }
        var codes: [String: Int] = [:]
        for reject in file.rejects {
            codes[reject.code, default: 0] += 1
            referenceRejects.append(
                SampleReferenceReject(file: file.name, line: reject.line, code: reject.code))
        }
        details.append(
            SampleFileDetail(
                kind: file.kind, name: file.name, modificationTime: mtime, gzip: false,
                crlf: file.crlf, bom: false, finalNewline: true, expectedState: "loaded",
                rows: file.rows, blankLines: 0, loaded: file.loaded,
                rejected: file.rejects.count, duplicates: 0,
                firstRejectedLine: file.rejects.first?.line, codeCounts: codes))
    }

    private mutating func writeOther(
        _ name: String, _ bytes: [UInt8], mtime: Int64, state: String, gzip: Bool = false
    ) throws(SampleDataError) {
        let temporary = temporaryPath(name)
        try SystemCalls.writeFile(temporary, bytes)
        try publish(name, from: temporary, mtime: mtime)
        states[name] = state
        details.append(
            SampleFileDetail(
                kind: state == "duplicate" ? "events" : "other", name: name,
                modificationTime: mtime, gzip: gzip, crlf: false, bom: false,
                finalNewline: true, expectedState: state, rows: 0, blankLines: 0, loaded: 0,
                rejected: 0, duplicates: 0, firstRejectedLine: nil, codeCounts: [:]))
    }

    private mutating func writeIgnored(_ name: String, _ bytes: [UInt8], mtime: Int64)
        throws(SampleDataError)
    {
        // Written directly: these names are ignored anyway.
        let target = path(name)
        try SystemCalls.writeFile(target, bytes)
        try SystemCalls.setModificationTime(target, epochSeconds: mtime)
        states[name] = "ignored"
        ignored.append(name)
    }

    /// Files that test the ledger and the folder rules rather than the row rules.
    mutating func writeEdgeCases(firstEventFile plan: EventFilePlan, after: Int64, seed: UInt64)
        throws(SampleDataError)
    {
        var mtime = after
        func next() -> Int64 {
            mtime += 60
            return mtime
        }
        let validLines = Array(
            """
            {"event_type": "play", "user_id": "user_1", "episode_id": "ep_1", "timestamp": "2024-01-01T12:00:00", "duration": 100}
            {"event_type": "pause", "user_id": "user_1", "episode_id": "ep_1", "timestamp": "2024-01-01T12:01:40", "duration": null}

            """.utf8)

        // Same bytes as the first event file under another name: a ledger duplicate.
        let original = try SystemCalls.readAll(path(plan.name))
        let copyName =
            "events-" + CivilTime.pad(plan.index + 1, 4) + "-copy.ndjson"
            + (plan.gzip ? ".gz" : "")
        try writeOther(copyName, original, mtime: next(), state: "duplicate", gzip: plan.gzip)

        try writeOther("events-empty.ndjson", [], mtime: next(), state: "rejected")

        let html = Array(
            """
            <!DOCTYPE html>
            <html>
            <head><title>504 Gateway Time-out</title></head>
            <body><h1>504 Gateway Time-out</h1></body>
            </html>

            """.utf8)
        try writeOther("events-html.json", html, mtime: next(), state: "rejected")

        // A gzip stream cut in half.
        let gzipTemporary = temporaryPath("events-truncated.ndjson.gz.part")
        let sink = try FileSink(path: gzipTemporary, gzip: true)
        var text: [UInt8] = []
        for _ in 0..<64 { text += validLines }
        let result = text.withUnsafeBytes { buffer -> Result<Void, SampleDataError> in
            guard let base = buffer.baseAddress else { return .success(()) }
            do throws(SampleDataError) {
                try sink.write(base, buffer.count)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
        try sink.close()
        let whole = try SystemCalls.readAll(gzipTemporary)
        SystemCalls.unlinkIfPresent(gzipTemporary)
        try writeOther(
            "events-truncated.ndjson.gz", Array(whole[0..<(whole.count / 2)]), mtime: next(),
            state: "rejected", gzip: true)

        var rng = Rng(seed: seed, stream: 9)
        var binary: [UInt8] = [0, 0, 0, 0]
        for _ in 0..<2_048 { binary.append(UInt8(truncatingIfNeeded: rng.next())) }
        try writeOther("events-binary.ndjson", binary, mtime: next(), state: "rejected")

        for name in [
            ".events-hidden.ndjson", "events-upload.ndjson.part", "events-upload.ndjson.tmp",
            "events-0001.ndjson.swp", "events-0002.ndjson~", "notes.txt",
        ] {
            try writeIgnored(name, validLines, mtime: next())
        }
        try SystemCalls.makeDirectories(path("archive.ndjson"))
        states["archive.ndjson"] = "ignored"
        ignored.append("archive.ndjson")
    }
}
