// Writes the event files: takes events from the session stream, decides per line whether
// it is blank, a late arrival, a duplicate, or dirty, renders it and keeps the books (the
// expected outcome of every row).

/// A valid original kept for re-delivery.
struct PooledLine {
    var line: EventLine
    var file: Int
}

/// Counters for one event file.
struct EventFileStats {
    var rows = 0
    var blankLines = 0
    var silver = 0
    var rejected = 0
    var duplicates = 0
    var firstRejectedLine: Int?
    var codeCounts = [Int](repeating: 0, count: ExpectedCode.allCases.count)
    var maxTimestamp: Int64 = 0
}

/// Layout of one event file.
struct EventFilePlan {
    var index: Int
    var name: String
    var lines: Int
    var gzip: Bool
    var crlf: Bool
    var bom: Bool
    var finalNewline: Bool
}

struct EventFileWriter {
    private let spec: SampleDataSpec
    private let reference: ReferenceData
    private var source: EventSource
    // `order: .random`: each file's share of the stream, and the current file's, shuffled.
    private var dealt: DealtEvents?
    private var feed: [EventRecord] = []
    private var feedIndex = 0
    private var rng: Rng
    private var faultRng: Rng
    private let out = OutputBuffer()
    private let fileCount: Int

    // Re-delivery pools: a sample of the previous file, a ring of the current file.
    private var previousSample: [PooledLine] = []
    private var currentSample: [PooledLine] = []
    private var currentSeen = 0
    private var ring: [PooledLine] = []
    private var ringNext = 0
    private static let sampleCapacity = 1024
    private static let ringCapacity = 256

    // Late arrivals: held back from one file, delivered in a later one.
    private var late: [(event: EventRecord, file: Int)] = []
    private var lateHead = 0
    private let lateCapacity: Int
    private let lateRate = 0.004
    private let blankRate = 0.0015

    // Fault choice: first every kind once (coverage), then by weight, among the kinds of
    // `spec.faults`.
    private let faultKinds: [SampleFaultKind]
    private var coverage: [SampleFaultKind]
    private var coverageIndex = 0
    private let faultTable: AliasTable
    // `faults: .seed`: no blank lines and one fault per dirty line.
    private let wholeCatalogue: Bool

    // Books.
    private(set) var totals = EventFileStats()
    private(set) var faultCounts: [SampleFaultKind: Int] = [:]
    private(set) var duplicateCounts: [SampleDuplicateKind: Int] = [:]
    private(set) var unknownUserEvents = 0
    private(set) var unknownEpisodeEvents = 0
    private(set) var firstTimestamp: Int64?
    private(set) var lastTimestamp: Int64?
    private(set) var recordedRows: [GeneratedRow] = []
    private(set) var recordedEvents: [GeneratedEvent] = []

    init(
        spec: SampleDataSpec, reference: ReferenceData, start: Int64, end: Int64,
        plans: [EventFilePlan], smallestFile: Int
    ) {
        self.spec = spec
        self.reference = reference
        self.fileCount = spec.eventFiles
        source = EventSource(spec: spec, reference: reference, start: start, end: end)
        if spec.order == .random {
            // As many fresh events as the stream is paced for; a file whose share runs out
            // continues with the stream (a few events past the range's end).
            dealt = DealtEvents(
                source: &source, plans: plans, count: source.targetEvents, seed: spec.seed)
        }
        rng = Rng(seed: spec.seed, stream: 3)
        faultRng = Rng(seed: spec.seed, stream: 4)
        lateCapacity = min(4096, smallestFile / 4)
        let picks = SampleFaultKind.picks(spec.faults)
        faultKinds = picks.kinds
        coverage = picks.kinds
        faultRng.shuffle(&coverage)
        faultTable = AliasTable(weights: picks.weights)
        wholeCatalogue = spec.faults.layoutFaults
    }

    private mutating func count(_ kind: SampleFaultKind, _ n: Int = 1) {
        faultCounts[kind, default: 0] += n
    }

    // MARK: one file

    /// Writes one event file to `path` (the caller renames it into place).
    mutating func write(_ plan: EventFilePlan, path: String) throws(SampleDataError) -> EventFileStats {
        let sink = try FileSink(path: path, gzip: plan.gzip, level: Int32(spec.gzipLevel))
        var stats = EventFileStats()
        var lineNumber = 0
        ring.removeAll(keepingCapacity: true)
        ringNext = 0
        if dealt != nil {
            feed = dealt?.take(plan.index) ?? []
            feedIndex = 0
        }
        if plan.bom {
            out.byte(0xEF)
            out.byte(0xBB)
            out.byte(0xBF)
            count(.byteOrderMark)
        }
        if plan.crlf { count(.crlfLineEnds) }
        if !plan.finalNewline { count(.missingFinalNewline) }
        let forcedBlank = plan.index == 0 ? min(3, plan.lines - 1) : -1
        let mayHoldBack = plan.index < fileCount - 1 && lateCapacity > 0

        for slot in 0..<plan.lines {
            if out.needsFlush { try sink.drain(out) }
            if wholeCatalogue && slot > 0 && (slot == forcedBlank || rng.chance(blankRate)) {
                switch rng.below(3) {
                case 0: break
                case 1: out.ascii("   ")
                default: out.byte(UInt8(ascii: "\t"))
                }
                lineEnd(plan.crlf)
                lineNumber += 1
                stats.blankLines += 1
            }
            lineNumber += 1
            stats.rows += 1

            let lateWaiting = late.count - lateHead
            if lateWaiting > 0 && late[lateHead].file < plan.index
                && (lateWaiting >= plan.lines - slot || rng.chance(0.03))
            {
                let event = late[lateHead].event
                lateHead += 1
                if lateHead == late.count {
                    late.removeAll(keepingCapacity: true)
                    lateHead = 0
                } else if lateHead >= 4096 {
                    late.removeFirst(lateHead)
                    lateHead = 0
                }
                count(.lateArrival)
                emit(event, plan: plan, line: lineNumber, stats: &stats)
            } else if spec.duplicateRate > 0 && rng.chance(spec.duplicateRate),
                let original = pickDuplicate()
            {
                emitDuplicate(original, plan: plan, line: lineNumber, stats: &stats)
            } else {
                var event = nextFresh()
                if mayHoldBack && late.count - lateHead < lateCapacity && rng.chance(lateRate) {
                    late.append((event, plan.index))
                    event = nextFresh()
                }
                emit(event, plan: plan, line: lineNumber, stats: &stats)
            }
            if slot < plan.lines - 1 || plan.finalNewline { lineEnd(plan.crlf) }
        }
        try sink.drain(out)
        try sink.close()
        feed = []

        // Roll the pools: this file's sample becomes the re-delivery source of the next.
        if !currentSample.isEmpty {
            previousSample = currentSample
            currentSample.removeAll(keepingCapacity: true)
            currentSeen = 0
        }
        totals.rows += stats.rows
        totals.blankLines += stats.blankLines
        totals.silver += stats.silver
        totals.rejected += stats.rejected
        totals.duplicates += stats.duplicates
        for i in 0..<stats.codeCounts.count { totals.codeCounts[i] += stats.codeCounts[i] }
        if wholeCatalogue { count(.blankLine, stats.blankLines) }
        return stats
    }

    /// The next fresh event: from the file's shuffled share, else from the stream.
    private mutating func nextFresh() -> EventRecord {
        if feedIndex < feed.count {
            feedIndex += 1
            return feed[feedIndex - 1]
        }
        return source.next()
    }

    @inline(__always)
    private func lineEnd(_ crlf: Bool) {
        if crlf { out.byte(13) }
        out.byte(10)
    }

    // MARK: lines

    private mutating func emit(
        _ event: EventRecord, plan: EventFilePlan, line lineNumber: Int,
        stats: inout EventFileStats
    ) {
        var line = EventLine(event)
        var kinds: [SampleFaultKind] = []
        if spec.dirtyRate > 0 && rng.chance(spec.dirtyRate) {
            applyFaults(&line, kinds: &kinds)
        }
        if event.timestamp > stats.maxTimestamp { stats.maxTimestamp = event.timestamp }
        if Int(event.user) > reference.knownUsers { count(.unknownUser) }
        if Int(event.episode) > reference.knownEpisodes { count(.unknownEpisode) }
        line.render(into: out)
        let codes = line.expectedCodes
        if codes == 0 {
            stats.silver += 1
            remember(line, file: plan.index)
            let ts = line.event.timestamp
            if firstTimestamp.map({ ts < $0 }) ?? true { firstTimestamp = ts }
            if lastTimestamp.map({ ts > $0 }) ?? true { lastTimestamp = ts }
            let userUnknown =
                line.userForm == .integer || line.userForm == .digitString
                || Int(line.event.user) > reference.knownUsers
            let episodeUnknown =
                line.episodeForm == .integer || line.episodeForm == .digitString
                || Int(line.event.episode) > reference.knownEpisodes
            if userUnknown { unknownUserEvents += 1 }
            if episodeUnknown { unknownEpisodeEvents += 1 }
            if spec.recordEvents {
                recordedEvents.append(
                    GeneratedEvent(
                        userId: line.userKey, episodeId: line.episodeKey,
                        eventType: line.event.kind.name, timestamp: ts,
                        duration: line.storedDuration, file: plan.name, line: lineNumber))
            }
        } else {
            stats.rejected += 1
            if stats.firstRejectedLine == nil { stats.firstRejectedLine = lineNumber }
            var mask = codes
            while mask != 0 {
                let bit = mask.trailingZeroBitCount
                stats.codeCounts[bit] += 1
                mask &= mask - 1
            }
        }
        for kind in kinds { count(kind) }
        if spec.recordEvents {
            recordedRows.append(
                GeneratedRow(
                    file: plan.name, line: lineNumber, codes: ExpectedCode.names(codes),
                    duplicate: false, faults: kinds.map(\.rawValue)))
        }
    }

    private mutating func remember(_ line: EventLine, file: Int) {
        let entry = PooledLine(line: line, file: file)
        currentSeen += 1
        if currentSample.count < EventFileWriter.sampleCapacity {
            currentSample.append(entry)
        } else {
            let j = rng.below(currentSeen)
            if j < EventFileWriter.sampleCapacity { currentSample[j] = entry }
        }
        if ring.count < EventFileWriter.ringCapacity {
            ring.append(entry)
        } else {
            ring[ringNext] = entry
            ringNext = (ringNext + 1) % EventFileWriter.ringCapacity
        }
    }

    private mutating func pickDuplicate() -> PooledLine? {
        let sameFileSoFar = duplicateCounts[.sameFile, default: 0]
        let preferRing = !ring.isEmpty && (sameFileSoFar == 0 || rng.chance(0.25))
        if preferRing || previousSample.isEmpty {
            return ring.isEmpty ? nil : ring[rng.below(ring.count)]
        }
        return previousSample[rng.below(previousSample.count)]
    }

    private static let spellings: [TimeForm] = [
        .canonical, .zulu, .offset, .fraction, .fractionZone, .space,
    ]

    private mutating func emitDuplicate(
        _ original: PooledLine, plan: EventFilePlan, line lineNumber: Int,
        stats: inout EventFileStats
    ) {
        var line = original.line
        let kind: SampleDuplicateKind
        if line.event.kind.carriesDuration && rng.chance(0.3) {
            kind = .differentDuration
            let delta = Int32(rng.int(1, 120))
            line.event.duration =
                line.event.duration > delta + 1 && rng.chance(0.5)
                ? line.event.duration - delta : line.event.duration + delta
        } else if rng.chance(0.4) {
            kind = .differentTimestampSpelling
            var form = line.timeForm
            while form == line.timeForm {
                form = EventFileWriter.spellings[rng.below(EventFileWriter.spellings.count)]
            }
            line.timeForm = form
            line.variant ^= UInt32(truncatingIfNeeded: rng.next()) & (0xFF << 9)
        } else {
            kind = .identicalLine
        }
        line.render(into: out)
        assert(line.expectedCodes == 0, "a duplicate must be a valid row")
        let place: SampleDuplicateKind = original.file == plan.index ? .sameFile : .laterFile
        duplicateCounts[kind, default: 0] += 1
        duplicateCounts[place, default: 0] += 1
        stats.duplicates += 1
        if spec.recordEvents {
            recordedRows.append(
                GeneratedRow(
                    file: plan.name, line: lineNumber, codes: [], duplicate: true,
                    faults: [kind.rawValue, place.rawValue]))
        }
    }

    // MARK: faults

    private func compatible(_ kind: SampleFaultKind, _ event: EventRecord) -> Bool {
        switch kind {
        case .durationDigitString, .durationIntegralFloat: event.kind.carriesDuration
        case .durationAbsentOnPauseOrSeek: !event.kind.carriesDuration
        default: true
        }
    }

    private mutating func nextKind(for event: EventRecord) -> SampleFaultKind {
        if coverageIndex < coverage.count {
            let kind = coverage[coverageIndex]
            if compatible(kind, event) {
                coverageIndex += 1
                return kind
            }
        }
        for _ in 0..<8 {
            let kind = faultKinds[faultTable.sample(&faultRng)]
            if compatible(kind, event) { return kind }
        }
        // Not reached with `faults: .seed`: each of its kinds fits every event.
        return .timestampZulu
    }

    private mutating func applyFaults(_ line: inout EventLine, kinds: inout [SampleFaultKind]) {
        line.variant = UInt32(truncatingIfNeeded: faultRng.next())
        let primary = nextKind(for: line.event)
        apply(primary, to: &line)
        kinds.append(primary)
        guard wholeCatalogue, primary.group != .wholeLine, faultRng.chance(0.12) else { return }
        for _ in 0..<8 {
            let second = faultKinds[faultTable.sample(&faultRng)]
            if second.group != .wholeLine && second.group != primary.group
                && compatible(second, line.event)
            {
                apply(second, to: &line)
                kinds.append(second)
                kinds.append(.multipleFaults)
                return
            }
        }
    }

    private mutating func forceDurationCarrier(_ line: inout EventLine) {
        guard !line.event.kind.carriesDuration else { return }
        line.event.kind = faultRng.chance(0.5) ? .play : .complete
        line.event.duration = Int32(faultRng.int(60, 3600))
    }

    private mutating func forceNoDuration(_ line: inout EventLine) {
        guard line.event.kind.carriesDuration else { return }
        line.event.kind = faultRng.chance(0.5) ? .pause : .seek
        line.event.duration = 0
    }

    private mutating func apply(_ kind: SampleFaultKind, to line: inout EventLine) {
        switch kind {
        case .userIdNull: line.userForm = .null
        case .userIdAbsent: line.userForm = .absent
        case .userIdEmpty: line.userForm = .empty
        case .userIdWhitespace: line.userForm = .whitespace
        case .userIdBoolean: line.userForm = .boolean
        case .userIdArray: line.userForm = .array
        case .userIdObject: line.userForm = .object
        case .userIdFractional: line.userForm = .fractional
        case .userIdInteger: line.userForm = .integer
        case .userIdDigitString: line.userForm = .digitString
        case .userIdPadded: line.userForm = .padded
        case .userIdEscaped: line.userForm = .escaped
        case .episodeIdNull: line.episodeForm = .null
        case .episodeIdAbsent: line.episodeForm = .absent
        case .episodeIdEmpty: line.episodeForm = .empty
        case .episodeIdWhitespace: line.episodeForm = .whitespace
        case .episodeIdBoolean: line.episodeForm = .boolean
        case .episodeIdArray: line.episodeForm = .array
        case .episodeIdObject: line.episodeForm = .object
        case .episodeIdFractional: line.episodeForm = .fractional
        case .episodeIdInteger: line.episodeForm = .integer
        case .episodeIdDigitString: line.episodeForm = .digitString
        case .episodeIdPadded: line.episodeForm = .padded
        case .episodeIdEscaped: line.episodeForm = .escaped
        case .eventTypeNull: line.typeForm = .null
        case .eventTypeAbsent: line.typeForm = .absent
        case .eventTypeEmpty: line.typeForm = .empty
        case .eventTypeUnknown: line.typeForm = .unknown
        case .eventTypeUpperCase: line.typeForm = .upper
        case .eventTypePadded: line.typeForm = .padded
        case .timestampNull: line.timeForm = .null
        case .timestampAbsent: line.timeForm = .absent
        case .timestampEmpty: line.timeForm = .empty
        case .timestampMalformed: line.timeForm = .malformed
        case .timestampDateOnly: line.timeForm = .dateOnly
        case .timestampImpossibleDate: line.timeForm = .impossible
        case .timestampNumeric: line.timeForm = .numeric
        case .timestampOtherFormat: line.timeForm = .otherFormat
        case .timestampTooEarly: line.timeForm = .tooEarly
        case .timestampTooEarlyByOffset: line.timeForm = .tooEarlyByOffset
        case .timestampInFuture: line.timeForm = .future
        case .timestampSpaceSeparator: line.timeForm = .space
        case .timestampZulu: line.timeForm = .zulu
        case .timestampOffset: line.timeForm = .offset
        case .timestampFraction: line.timeForm = .fraction
        case .timestampFractionWithZone: line.timeForm = .fractionZone
        case .durationNullOnPlayOrComplete:
            forceDurationCarrier(&line)
            line.durationForm = .null
        case .durationAbsentOnPlayOrComplete:
            forceDurationCarrier(&line)
            line.durationForm = .absent
        case .durationZero:
            forceDurationCarrier(&line)
            line.durationForm = .zero
        case .durationNegative:
            forceDurationCarrier(&line)
            line.durationForm = .negative
        case .durationFractional:
            forceDurationCarrier(&line)
            line.durationForm = .fractional
        case .durationNonNumeric:
            forceDurationCarrier(&line)
            line.durationForm = .nonNumeric
        case .durationOnPauseOrSeek:
            forceNoDuration(&line)
            switch faultRng.below(3) {
            case 0: line.durationForm = .integer
            case 1: line.durationForm = .digitString
            default: line.durationForm = .zero
            }
            line.otherDuration = Int32(faultRng.int(1, 300))
        case .durationDigitString: line.durationForm = .digitString
        case .durationIntegralFloat: line.durationForm = .integralFloat
        case .durationAbsentOnPauseOrSeek: line.durationForm = .absent
        case .extraKeys: line.extras = UInt8(1 + faultRng.below(5))
        case .compactFormatting: line.compact = true
        case .reorderedKeys: line.reordered = true
        case .surroundingWhitespace: line.surround = UInt8(1 + faultRng.below(3))
        case .malformedTruncated: line.body = .truncated
        case .malformedGarbage: line.body = .garbage
        case .malformedInvalidUTF8: line.body = .invalidUTF8
        case .malformedConcatenated: line.body = .concatenated
        case .notObjectNumber: line.body = .number
        case .notObjectArray: line.body = .array
        case .notObjectNull: line.body = .null
        case .notObjectString: line.body = .string
        case .notObjectBoolean: line.body = .boolean
        case .emptyObject: line.body = .emptyObject
        case .multipleFaults, .blankLine, .byteOrderMark, .crlfLineEnds, .missingFinalNewline,
            .lateArrival, .unknownUser, .unknownEpisode:
            break
        }
    }
}
