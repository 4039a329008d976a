// Listening sessions turned into a time-ordered stream of events.
//
// A session: a user plays one or more episodes in a row (heavy users binge, often the next
// episode of the same podcast); each episode is played in segments separated by pauses,
// maybe with a seek, and often completed (complete.duration = seconds listened, sometimes
// a little above the episode length). Sessions start along a global clock whose pace
// adapts so that the requested number of events spans the requested days, with a daily
// rhythm. Events are generated in chunks, sorted, and released once no later session can
// precede them, so memory stays bounded.
//
// Every event of a user has a strictly greater timestamp than the user's previous event,
// so two distinct events never share a natural key (user, episode, type, UTC second).

struct PendingEvent {
    /// `timestamp << 32 | sequence`: sorts by time, then by generation order.
    var key: UInt64
    var user: Int32
    var episode: Int32
    var kind: Kind
    var duration: Int32

    var timestamp: Int64 { Int64(key >> 32) }
}

struct EventSource {
    private var rng: Rng
    private let reference: ReferenceData
    private let periodEnd: Int64
    /// Fresh events the stream is paced for: they span the range.
    let targetEvents: Int
    private var clock: Double
    private var lastEvent: [Int64]
    private var pending: [PendingEvent] = []
    private var ready: [PendingEvent] = []
    private var readyIndex = 0
    private var sequence: UInt32 = 0
    private var generated = 0
    private var sessions = 0
    private var eventsPerSession = 4.5

    /// Relative activity per UTC hour (mean 1).
    private static let hourly: [Double] = {
        let raw: [Double] = [
            0.6, 0.5, 0.45, 0.4, 0.4, 0.45, 0.6, 0.9, 1.2, 1.2, 1.1, 1.0,
            1.1, 1.1, 1.0, 1.0, 1.1, 1.3, 1.4, 1.5, 1.4, 1.2, 1.0, 0.8,
        ]
        let mean = raw.reduce(0, +) / Double(raw.count)
        return raw.map { $0 / mean }
    }()

    init(spec: SampleDataSpec, reference: ReferenceData, start: Int64, end: Int64) {
        rng = Rng(seed: spec.seed, stream: 2)
        self.reference = reference
        // Sessions run for hours after they start; aim their starts a little before the
        // end so that the last events land near it.
        periodEnd = end - min(5 * 3600, (end - start) / 24)
        clock = Double(start)
        targetEvents = max(1, Int(Double(spec.events) * (1 - spec.duplicateRate)))
        lastEvent = [Int64](
            repeating: 0, count: reference.knownUsers + reference.unknownUsers + 1)
        pending.reserveCapacity(8192)
        ready.reserveCapacity(8192)
    }

    /// The next event in time order (the stream never ends; past the requested range it
    /// continues at a steady pace).
    mutating func next() -> EventRecord {
        if readyIndex == ready.count { refill() }
        let e = ready[readyIndex]
        readyIndex += 1
        return EventRecord(
            timestamp: e.timestamp, user: e.user, episode: e.episode, kind: e.kind,
            duration: e.duration)
    }

    private mutating func refill() {
        ready.removeAll(keepingCapacity: true)
        readyIndex = 0
        while true {
            var produced = 0
            while produced < 2048 {
                let before = pending.count
                session(start: Int64(clock))
                let made = pending.count - before
                produced += made
                generated += made
                sessions += 1
                // Recent events per session (the mix drifts as users sign up).
                let weight = sessions < 500 ? 1.0 / Double(sessions) : 0.002
                eventsPerSession += (Double(made) - eventsPerSession) * weight
                clock += gap()
            }
            pending.sort { $0.key < $1.key }
            let boundary = UInt64(Int64(clock)) << 32
            var low = 0
            var high = pending.count
            while low < high {
                let mid = (low + high) / 2
                if pending[mid].key < boundary { low = mid + 1 } else { high = mid }
            }
            if low > 0 {
                ready.append(contentsOf: pending[0..<low])
                pending.removeSubrange(0..<low)
                return
            }
        }
    }

    /// Seconds to the next session start.
    private mutating func gap() -> Double {
        let remaining = targetEvents - generated
        let perSession = eventsPerSession
        let mean: Double
        if remaining <= 0 {
            mean = 60
        } else {
            let timeLeft = max(3600, Double(periodEnd) - clock)
            mean = timeLeft / max(1, Double(remaining) / max(1, perSession))
        }
        let hour = Int((Int64(clock) % 86_400) / 3600)
        return rng.unit() * 2 * mean / EventSource.hourly[max(0, min(23, hour))]
    }

    @inline(__always)
    private mutating func emit(
        _ ts: Int64, user: Int, episode: Int, kind: Kind, duration: Int
    ) {
        pending.append(
            PendingEvent(
                key: UInt64(ts) << 32 | UInt64(sequence), user: Int32(user),
                episode: Int32(episode), kind: kind, duration: Int32(duration)))
        sequence &+= 1
    }

    private mutating func pickUser(start: Int64, day: Int) -> Int? {
        if rng.chance(0.006) {
            return reference.knownUsers + 1 + rng.below(reference.unknownUsers)
        }
        for _ in 0..<6 {
            let n = 1 + reference.userAlias.sample(&rng)
            if reference.signupDay[n] <= day && lastEvent[n] < start + 3 * 3600 { return n }
        }
        return nil
    }

    private mutating func pickEpisode(after previous: Int, day: Int) -> Int? {
        if rng.chance(0.005) {
            return reference.knownEpisodes + 1 + rng.below(reference.unknownEpisodes)
        }
        if previous > 0 && previous <= reference.knownEpisodes && rng.chance(0.5) {
            let next = Int(reference.nextInPodcast[previous])
            if next > 0 && reference.releaseDay[next] <= day { return next }
        }
        for _ in 0..<4 {
            let n = 1 + reference.episodeAlias.sample(&rng)
            if reference.releaseDay[n] <= day && (n != previous || reference.knownEpisodes == 1) {
                return n
            }
        }
        return nil
    }

    private mutating func session(start proposed: Int64) {
        let day = Int(proposed / 86_400)
        guard let user = pickUser(start: proposed, day: day) else { return }
        var t = proposed
        if lastEvent[user] >= t { t = lastEvent[user] + Int64(rng.int(30, 900)) }
        let heavy = reference.heavyUser[user]
        var listens = 1
        let more = heavy ? 0.6 : 0.25
        while listens < 8 && rng.chance(more) { listens += 1 }

        var previous = 0
        var last: Int64 = lastEvent[user]
        for _ in 0..<listens {
            guard let episode = pickEpisode(after: previous, day: Int(t / 86_400)) else {
                continue
            }
            previous = episode
            let length = Double(reference.episodeLength[episode])
            let completes = rng.chance(0.55)
            let fraction =
                completes
                ? rng.double(0.86, 1.08) + reference.completionBias[user]
                : rng.double(0.03, 0.85)
            let listened = max(2, Int(length * fraction))
            let r = rng.unit()
            var pauses = r < 0.5 ? 0 : r < 0.8 ? 1 : r < 0.95 ? 2 : 3
            pauses = min(pauses, listened / 2 - 1)
            var seekPending = rng.chance(0.3)
            var remaining = listened
            for segmentIndex in 0...pauses {
                let segmentsLeft = pauses - segmentIndex
                var segment = remaining
                if segmentsLeft > 0 {
                    let share = Int(Double(remaining) * rng.double(0.2, 0.7))
                    segment = max(2, min(share, remaining - 2 * segmentsLeft))
                }
                remaining -= segment
                emit(t, user: user, episode: episode, kind: .play, duration: segment)
                if seekPending && segment >= 3 && (segmentsLeft == 0 || rng.chance(0.5)) {
                    emit(
                        t + 1 + Int64(rng.below(segment - 2)), user: user, episode: episode,
                        kind: .seek, duration: 0)
                    seekPending = false
                }
                t += Int64(segment)
                last = t
                if segmentsLeft > 0 {
                    emit(t, user: user, episode: episode, kind: .pause, duration: 0)
                    t += Int64(rng.int(5, 1800))
                }
            }
            if completes {
                emit(t, user: user, episode: episode, kind: .complete, duration: listened)
                last = t
            } else {
                last = t - 1
            }
            t += Int64(rng.int(5, 300))
        }
        lastEvent[user] = max(lastEvent[user], last)
    }
}
